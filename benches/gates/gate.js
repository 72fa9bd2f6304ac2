// njs for the nginx gate in the POST comparison of benches/gates.sh (loaded by conf.sh's
// conf_nginx_post). The identifier is the JSON body's top-level "package" string, as icpgate's
// `{ json = "/package" }` and HAProxy's `json_query('$.package')` read it; anything else (no
// body, not JSON, not a string) maps to the empty id, which is not filed.
const BODY_451 = '{"error":"unavailable_for_legal_reasons","status":451}';

// js_set $json_package: the map's source variable, evaluated when $filing is first read.
function jsonPackage(r) {
  try {
    const v = JSON.parse(r.requestText).package;
    return typeof v === 'string' ? v : '';
  } catch (e) {
    return '';
  }
}

// js_content: runs once nginx has read the body, so $json_package sees it.
function decide(r) {
  if (r.variables.filing !== '1') {
    r.headersOut['Content-Type'] = 'application/json';
    r.return(451, BODY_451);
    return;
  }
  r.internalRedirect('@up');
}

export default { jsonPackage, decide };
