<?php
// PHP reader of the differential suite (tests/differential.rs, docs/differential.md), run as
// `php -S 127.0.0.1:PORT router.php`. Answers, as JSON, what a PHP application reads from
// the request: the path it routes on, $_GET, $_POST, $_REQUEST (with PHP's key mangling:
// case kept, `a[]` arrays, leading spaces dropped, ` ` and `.` to `_`), the id headers from
// $_SERVER (where `x-app-id` and `x_app_id` are the same key), and for an uploaded package
// the sha256 of AndroidManifest.xml as PharData (PHP's own ZIP reader) reads it.
$ids = ['appid', 'pkg', 'bundle', 'package', 'x-app-id', 'x-mp-appid'];
$readings = [];

function add(&$readings, $via, $name, $value)
{
    if (is_array($value)) {
        foreach ($value as $k => $v) {
            if ($name === 'app' && $k === 'id' && is_string($v)) {
                $readings[] = ['via' => $via, 'name' => 'app.id', 'value' => $v];
            } elseif (is_string($v)) {
                $readings[] = ['via' => $via . '[' . $k . ']', 'name' => $name, 'value' => $v];
            }
        }
        return;
    }
    $readings[] = ['via' => $via, 'name' => $name, 'value' => (string) $value];
}

foreach (['_GET' => $_GET, '_POST' => $_POST, '_REQUEST' => $_REQUEST] as $var => $arr) {
    foreach ($arr as $k => $v) {
        if (in_array($k, $ids, true) || $k === 'app') {
            add($readings, '$' . $var, $k, $v);
        }
    }
}
foreach (['x-app-id' => 'HTTP_X_APP_ID', 'x-mp-appid' => 'HTTP_X_MP_APPID'] as $name => $key) {
    if (isset($_SERVER[$key])) {
        add($readings, '$_SERVER[' . $key . ']', $name, $_SERVER[$key]);
    }
}

// The JSON body a PHP API reads with json_decode(file_get_contents('php://input')).
$input = file_get_contents('php://input');
$ctype = strtolower(trim(explode(';', $_SERVER['CONTENT_TYPE'] ?? '')[0]));
if ($ctype === 'application/json' || str_ends_with($ctype, '+json')) {
    $doc = json_decode($input, true);
    if (is_array($doc)) {
        foreach ($doc as $k => $v) {
            if (in_array($k, $ids, true) && is_string($v)) {
                add($readings, 'json_decode', $k, $v);
            }
        }
        if (isset($doc['app']['id']) && is_string($doc['app']['id'])) {
            add($readings, 'json_decode', 'app.id', $doc['app']['id']);
        }
    }
}

function manifest_sha($path)
{
    // PharData picks its format from the file name.
    $zip = $path . '.zip';
    if (!@copy($path, $zip)) {
        return null;
    }
    try {
        $p = new PharData($zip);
        return 'sha256:' . hash('sha256', file_get_contents($p['AndroidManifest.xml']->getPathname()));
    } catch (Throwable $e) {
        return null;
    } finally {
        @unlink($zip);
    }
}

foreach ($_FILES as $field => $f) {
    $names = is_array($f['tmp_name']) ? $f['tmp_name'] : [$f['tmp_name']];
    foreach ($names as $tmp) {
        if ($field === 'file' && is_string($tmp) && $tmp !== '' && ($sha = manifest_sha($tmp)) !== null) {
            add($readings, '$_FILES PharData', 'file', $sha);
        }
    }
}
if (in_array($ctype, ['application/vnd.android.package-archive', 'application/octet-stream', 'application/zip'], true)) {
    $tmp = tempnam(sys_get_temp_dir(), 'diff');
    file_put_contents($tmp, $input);
    if (($sha = manifest_sha($tmp)) !== null) {
        add($readings, 'php://input PharData', 'file', $sha);
    }
    @unlink($tmp);
}

$path = parse_url($_SERVER['REQUEST_URI'], PHP_URL_PATH);
$out = json_encode(['path' => rawurldecode($path === false || $path === null ? '' : $path), 'readings' => $readings],
    JSON_INVALID_UTF8_SUBSTITUTE);
header('Content-Type: application/json');
header('Content-Length: ' . strlen($out));
echo $out;
