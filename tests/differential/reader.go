// Go reader of the differential suite (tests/differential.rs, docs/differential.md).
// Answers, as JSON, what a Go application built on net/http reads from the request, with the
// standard library only:
//   - the path: r.URL.Path, decoded and not cleaned, which gin, chi and echo route on
//     (http.ServeMux would answer an unclean path such as /a/../b with a redirect instead);
//   - the query: every value of each id name in r.URL.Query() (Go >= 1.17 drops a pair
//     holding `;`);
//   - the id headers: r.Header.Values, under Go's canonical names (X-App-Id; `x_app_id`
//     canonicalises to X_app_id, another header);
//   - the form: r.FormValue (body before query for urlencoded, query before body for
//     multipart; the first value) and r.PostFormValue, what most Go handlers call;
//   - a JSON body: json.Unmarshal into a struct, which binds keys case-insensitively with
//     simple Unicode folding (`pac\u212Aage` is `package`, `ſ` is `s`) and lets the last
//     duplicate win; fields set before an UnmarshalTypeError are reported, nothing on a
//     syntax error;
//   - a package: `file-sha256:<hex>` of each multipart `file` upload and of a raw package body
//     (the test maps it to a package).
//
// Prints {"go": port} once listening on 127.0.0.1:0; exits when stdin closes.
package main

import (
	"bytes"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"os"
	"strings"
)

var idNames = []string{"appid", "pkg", "bundle", "package"}
var headerNames = []string{"x-app-id", "x-mp-appid"}
var packageTypes = map[string]bool{
	"application/vnd.android.package-archive": true,
	"application/octet-stream":                true,
	"application/zip":                         true,
}

type reading struct {
	Via   string `json:"via"`
	Name  string `json:"name"`
	Value string `json:"value"`
}

type answer struct {
	Path     string    `json:"path"`
	Readings []reading `json:"readings"`
}

// The request document a Go handler declares: pointers tell an absent key from an empty one.
type document struct {
	Appid   *string `json:"appid"`
	Pkg     *string `json:"pkg"`
	Bundle  *string `json:"bundle"`
	Package *string `json:"package"`
	App     struct {
		ID *string `json:"id"`
	} `json:"app"`
}

func fileDigest(b []byte) string {
	sum := sha256.Sum256(b)
	return "file-sha256:" + hex.EncodeToString(sum[:])
}

func jsonReadings(body []byte, add func(via, name, value string)) {
	var d document
	err := json.Unmarshal(body, &d)
	var syntax *json.SyntaxError
	if errors.As(err, &syntax) {
		add("json.Unmarshal", "error", err.Error())
		return
	}
	fields := []struct {
		name  string
		value *string
	}{
		{"appid", d.Appid}, {"pkg", d.Pkg}, {"bundle", d.Bundle}, {"package", d.Package},
		{"app.id", d.App.ID},
	}
	for _, f := range fields {
		if f.value != nil {
			add("json.Unmarshal", f.name, *f.value)
		}
	}
}

// formReadings parses the body as the form (urlencoded or multipart) through FormValue and
// reports the uploaded `file` parts.
func formReadings(r *http.Request, add func(via, name, value string)) {
	for _, name := range idNames {
		// FormValue parses the form (ParseMultipartForm, 32 MiB) and ignores its errors.
		if v := r.FormValue(name); len(r.Form[name]) > 0 {
			add("FormValue", name, v)
		}
		if v := r.PostFormValue(name); len(r.PostForm[name]) > 0 {
			add("PostFormValue", name, v)
		}
	}
	if err := r.ParseMultipartForm(32 << 20); err != nil && !errors.Is(err, http.ErrNotMultipart) {
		add("ParseMultipartForm", "error", err.Error())
	}
	if r.MultipartForm == nil {
		return
	}
	for _, fh := range r.MultipartForm.File["file"] {
		f, err := fh.Open()
		if err != nil {
			add("FormFile", "error", err.Error())
			continue
		}
		b, err := io.ReadAll(f)
		f.Close()
		if err != nil {
			add("FormFile", "error", err.Error())
			continue
		}
		add("FormFile", "file", fileDigest(b))
	}
}

func read(r *http.Request) answer {
	out := answer{Path: r.URL.Path, Readings: []reading{}}
	add := func(via, name, value string) {
		out.Readings = append(out.Readings, reading{via, name, value})
	}
	query := r.URL.Query()
	for _, name := range idNames {
		for _, v := range query[name] {
			add("URL.Query", name, v)
		}
	}
	for _, name := range headerNames {
		for _, v := range r.Header.Values(name) {
			add("Header.Values", name, v)
		}
	}
	body, err := io.ReadAll(r.Body)
	if err != nil {
		add("body", "error", err.Error())
		return out
	}
	r.Body = io.NopCloser(bytes.NewReader(body))
	ctype := strings.ToLower(strings.TrimSpace(strings.SplitN(r.Header.Get("Content-Type"), ";", 2)[0]))
	switch {
	case ctype == "application/json" || strings.HasSuffix(ctype, "+json"):
		jsonReadings(body, add)
	case packageTypes[ctype]:
		add("raw body", "file", fileDigest(body))
	}
	formReadings(r, add)
	return out
}

func main() {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		fmt.Fprintln(os.Stderr, "listen:", err)
		os.Exit(1)
	}
	handler := http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		data, _ := json.Marshal(read(r))
		w.Header().Set("Content-Type", "application/json")
		w.Header().Set("Content-Length", fmt.Sprint(len(data)))
		w.Write(data)
	})
	go func() {
		io.Copy(io.Discard, os.Stdin)
		os.Exit(0)
	}()
	fmt.Printf("{\"go\": %d}\n", ln.Addr().(*net.TCPAddr).Port)
	if err := http.Serve(ln, handler); err != nil {
		fmt.Fprintln(os.Stderr, "serve:", err)
		os.Exit(1)
	}
}
