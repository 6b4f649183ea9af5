package server

import (
	"bytes"
	"crypto/ed25519"
	"encoding/json"
	"fmt"
	"io"
	"mime"
	"net/http"
	"net/http/httptest"
	"net/url"
	"regexp"
	"sort"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/purplebook/purplebook/app/bundle"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

// The document names exactly the routes of the router table, each with a
// summary, its access rule and a declared success answer; and every $ref
// resolves.
func TestOpenAPIDocumentMatchesRouteTable(t *testing.T) {
	e := newAPIEnv(t, withOptions(func(o *Options) { o.EnableReset = true }))
	rec := e.call("GET", "/api/v1/openapi.json", "", "")
	require.Equal(t, 200, rec.Code, rec.Body.String())
	assert.Contains(t, rec.Header().Get("Cache-Control"), "public")
	etag := rec.Header().Get("ETag")
	require.NotEmpty(t, etag)
	again := e.call("GET", "/api/v1/openapi.json", "", "", "If-None-Match", etag)
	assert.Equal(t, 304, again.Code)

	var doc map[string]any
	require.NoError(t, json.Unmarshal(rec.Body.Bytes(), &doc))
	assert.Equal(t, "3.1.0", doc["openapi"])

	routes := map[string]Route{}
	for _, rt := range e.srv.Routes() {
		routes[rt.Method+" /api/v1"+openAPIPathOf(rt.Path)] = rt
	}
	require.Contains(t, routes, "POST /api/v1/diag/reset", "the reset route is on with EnableReset")
	documented := map[string]map[string]any{}
	for p, item := range doc["paths"].(map[string]any) {
		for m, op := range item.(map[string]any) {
			documented[strings.ToUpper(m)+" "+p] = op.(map[string]any)
		}
	}
	for k := range routes {
		assert.Contains(t, documented, k, "route missing from the document")
	}
	for k := range documented {
		assert.Contains(t, routes, k, "the document names a route that does not exist")
	}
	for k, op := range documented {
		rt, ok := routes[k]
		if !ok {
			continue
		}
		assert.NotEmpty(t, op["summary"], "%s: summary", k)
		resp := op["responses"].(map[string]any)
		ok2xx := false
		for st := range resp {
			ok2xx = ok2xx || strings.HasPrefix(st, "2")
		}
		assert.True(t, ok2xx, "%s: no success answer", k)
		for _, st := range errorStatuses {
			if own, ok := rt.Out.(Responses); ok && own[st] != nil {
				continue // the route's own answer (diag/db's 503)
			}
			r := resp[strconv.Itoa(st)].(map[string]any)
			schema := r["content"].(map[string]any)["application/json"].(map[string]any)["schema"].(map[string]any)
			assert.Equal(t, "#/components/schemas/Error", schema["$ref"], "%s %d", k, st)
		}
		switch rt.Access {
		case Public:
			assert.Equal(t, []any{}, op["security"], k)
		case Permission:
			assert.Equal(t, rt.Perm, op["x-permission"], k)
			assert.NotEmpty(t, op["security"], k)
		case Authenticated:
			assert.Nil(t, op["x-permission"], k)
			assert.NotEmpty(t, op["security"], k)
		}
		assert.Equal(t, rt.Session, op["x-session-only"] == true, "%s: session only", k)
		var params []string
		if ps, ok := op["parameters"].([]any); ok {
			for _, p := range ps {
				if pm := p.(map[string]any); pm["in"] == "path" {
					params = append(params, pm["name"].(string))
				}
			}
		}
		var want []string
		for _, m := range pathParamRE.FindAllStringSubmatch(rt.Path, -1) {
			want = append(want, m[1])
		}
		assert.Equal(t, want, params, "%s: path parameters", k)
		_, hasBody := op["requestBody"]
		assert.Equal(t, rt.In != nil, hasBody, "%s: request body", k)
	}

	// Every reference resolves.
	schemas := doc["components"].(map[string]any)["schemas"].(map[string]any)
	var refs func(v any)
	refs = func(v any) {
		switch x := v.(type) {
		case map[string]any:
			if r, ok := x["$ref"].(string); ok {
				assert.Contains(t, schemas, strings.TrimPrefix(r, "#/components/schemas/"), "dangling $ref")
			}
			for _, y := range x {
				refs(y)
			}
		case []any:
			for _, y := range x {
				refs(y)
			}
		}
	}
	refs(doc)
}

// A route without a declared answer makes the document fail (the server
// answers 500 for it) rather than describe it wrongly: a new route must
// at least declare its response.
func TestOpenAPIRefusesUndeclaredRoute(t *testing.T) {
	rs := []Route{{Method: "GET", Path: "/new-thing", Access: Authenticated, Summary: "New"}}
	_, err := buildOpenAPI(rs, "test")
	require.Error(t, err)
	assert.Contains(t, err.Error(), "GET /new-thing declares no answer")
	rs[0].Out = healthStatus{}
	_, err = buildOpenAPI(rs, "test")
	require.NoError(t, err)
}

// The reflection: json names, omitempty, pointers nullable, embedded
// structs flattened, times as date-time strings, db.Page as the envelope.
func TestOpenAPISchemaFromTypes(t *testing.T) {
	doc, err := buildOpenAPI([]Route{{Method: "GET", Path: "/x", Summary: "x", Out: auditPage{}}}, "test")
	require.NoError(t, err)
	b, err := json.Marshal(doc)
	require.NoError(t, err)
	var d map[string]any
	require.NoError(t, json.Unmarshal(b, &d))
	schemas := d["components"].(map[string]any)["schemas"].(map[string]any)
	page := schemas["server.auditPage"].(map[string]any)
	props := page["properties"].(map[string]any)
	for _, k := range []string{"items", "total", "page", "per_page", "users"} {
		assert.Contains(t, props, k)
	}
	assert.Equal(t, false, page["additionalProperties"])
	entry := schemas["server.auditEntry"].(map[string]any)["properties"].(map[string]any)
	assert.Contains(t, entry, "actor_name")
	assert.Contains(t, entry, "action", "embedded audit.Entry is flattened")
	assert.Equal(t, map[string]any{"type": "string", "format": "date-time"}, entry["at"])
	assert.Equal(t, []any{"string", "null"}, entry["actor_user_id"].(map[string]any)["type"], "pointer = nullable")

	// The validator catches what the schema forbids.
	v := newContractValidator(d)
	assert.NotEmpty(t, v.check(page, map[string]any{"items": []any{}, "total": 0.0, "page": 1.0, "per_page": 50.0, "users": map[string]any{}, "extra": 1.0}, ""))
	assert.NotEmpty(t, v.check(page, map[string]any{"items": []any{}, "total": "0", "page": 1.0, "per_page": 50.0, "users": map[string]any{}}, ""))
	assert.NotEmpty(t, v.check(page, map[string]any{"items": nil, "total": 0.0, "page": 1.0, "per_page": 50.0, "users": map[string]any{}}, ""))
	assert.Empty(t, v.check(page, map[string]any{"items": []any{}, "total": 0.0, "page": 1.0, "per_page": 50.0, "users": map[string]any{}}, ""))
}

// contractValidator checks answers against the document: a small JSON
// Schema subset (the one buildOpenAPI writes: type, properties, required,
// additionalProperties, items, anyOf, $ref, format date-time).
type contractValidator struct {
	doc     map[string]any
	schemas map[string]any
	ops     []contractOp
}

type contractOp struct {
	method string
	re     *regexp.Regexp
	lits   int // literal segments: the most specific template wins
	op     map[string]any
}

func newContractValidator(doc map[string]any) *contractValidator {
	v := &contractValidator{doc: doc, schemas: doc["components"].(map[string]any)["schemas"].(map[string]any)}
	paths, _ := doc["paths"].(map[string]any)
	for p, item := range paths {
		segs := strings.Split(p, "/")
		lits := 0
		for i, s := range segs {
			if strings.HasPrefix(s, "{") {
				segs[i] = "[^/]+"
			} else {
				segs[i] = regexp.QuoteMeta(s)
				lits++
			}
		}
		re := regexp.MustCompile("^" + strings.Join(segs, "/") + "$")
		for m, op := range item.(map[string]any) {
			v.ops = append(v.ops, contractOp{method: strings.ToUpper(m), re: re, lits: lits, op: op.(map[string]any)})
		}
	}
	sort.Slice(v.ops, func(i, j int) bool { return v.ops[i].lits > v.ops[j].lits })
	return v
}

func (v *contractValidator) find(method, path string) map[string]any {
	for _, o := range v.ops {
		if o.method == method && o.re.MatchString(path) {
			return o.op
		}
	}
	return nil
}

// check returns the problems of value against schema, each naming its
// JSON path.
func (v *contractValidator) check(schema map[string]any, value any, at string) []string {
	if ref, ok := schema["$ref"].(string); ok {
		s, ok := v.schemas[strings.TrimPrefix(ref, "#/components/schemas/")].(map[string]any)
		if !ok {
			return []string{at + ": unknown $ref " + ref}
		}
		return v.check(s, value, at)
	}
	if alts, ok := schema["anyOf"].([]any); ok {
		var all []string
		for _, s := range alts {
			p := v.check(s.(map[string]any), value, at)
			if len(p) == 0 {
				return nil
			}
			all = append(all, p...)
		}
		return []string{fmt.Sprintf("%s: matches no alternative (%s)", at, strings.Join(all, "; "))}
	}
	if typ, ok := schema["type"]; ok {
		var types []string
		switch t := typ.(type) {
		case string:
			types = []string{t}
		case []any:
			for _, x := range t {
				types = append(types, x.(string))
			}
		}
		got := jsonKind(value)
		okType := false
		for _, t := range types {
			okType = okType || t == got || (t == "number" && got == "integer")
		}
		if !okType {
			return []string{fmt.Sprintf("%s: is %s, want %s", at, got, strings.Join(types, " or "))}
		}
	}
	var probs []string
	switch x := value.(type) {
	case string:
		if schema["format"] == "date-time" {
			if _, err := time.Parse(time.RFC3339Nano, x); err != nil {
				probs = append(probs, fmt.Sprintf("%s: %q is not a date-time", at, x))
			}
		}
	case []any:
		if items, ok := schema["items"].(map[string]any); ok {
			for i, y := range x {
				probs = append(probs, v.check(items, y, fmt.Sprintf("%s/%d", at, i))...)
			}
		}
	case map[string]any:
		props, _ := schema["properties"].(map[string]any)
		if req, ok := schema["required"].([]any); ok {
			for _, r := range req {
				if _, ok := x[r.(string)]; !ok {
					probs = append(probs, fmt.Sprintf("%s: missing %q", at, r))
				}
			}
		}
		for k, y := range x {
			if ps, ok := props[k].(map[string]any); ok {
				probs = append(probs, v.check(ps, y, at+"/"+k)...)
				continue
			}
			switch ap := schema["additionalProperties"].(type) {
			case bool:
				if !ap {
					probs = append(probs, fmt.Sprintf("%s: undocumented property %q", at, k))
				}
			case map[string]any:
				probs = append(probs, v.check(ap, y, at+"/"+k)...)
			}
		}
	}
	return probs
}

func jsonKind(v any) string {
	switch x := v.(type) {
	case nil:
		return "null"
	case bool:
		return "boolean"
	case float64:
		if x == float64(int64(x)) {
			return "integer"
		}
		return "number"
	case string:
		return "string"
	case []any:
		return "array"
	case map[string]any:
		return "object"
	}
	return fmt.Sprintf("%T", v)
}

// contractChecks counts the answers checked (the suite's log says how
// many), contractSeen the operations whose success answers they covered.
var (
	contractChecks atomic.Int64
	contractSeen   sync.Map
)

// contractUnseen lists the operations of the document no checked success
// answer came from.
func contractUnseen() []string {
	doc, err := buildOpenAPI((&Server{opts: Options{EnableReset: true}}).apiRoutes(), "test")
	if err != nil {
		return []string{err.Error()}
	}
	var out []string
	for p, item := range doc["paths"].(map[string]any) {
		for m, op := range item.(map[string]any) {
			if _, ok := contractSeen.Load(op.(map[string]any)["operationId"]); !ok {
				out = append(out, strings.ToUpper(m)+" "+p)
			}
		}
	}
	sort.Strings(out)
	return out
}

// keepBody makes a small request body readable again after the server
// consumed it (GetBody), for checkRequest.
func keepBody(req *http.Request) {
	if req.Body == nil || req.ContentLength <= 0 || req.ContentLength > DefaultBodyLimit {
		return
	}
	b, err := io.ReadAll(req.Body)
	if err != nil {
		return
	}
	req.Body = io.NopCloser(bytes.NewReader(b))
	req.GetBody = func() (io.ReadCloser, error) { return io.NopCloser(bytes.NewReader(b)), nil }
}

// contractValidators caches one validator per server (tests that build
// their own routes are checked against the server's API routes only).
var contractValidators sync.Map

func validatorFor(t testing.TB, s *Server) *contractValidator {
	if v, ok := contractValidators.Load(s); ok {
		return v.(*contractValidator)
	}
	doc, err := buildOpenAPI(s.apiRoutes(), "test")
	require.NoError(t, err, "the OpenAPI document")
	b, err := json.Marshal(doc)
	require.NoError(t, err)
	var d map[string]any
	require.NoError(t, json.Unmarshal(b, &d))
	v := newContractValidator(d)
	contractValidators.Store(s, v)
	t.Cleanup(func() { contractValidators.Delete(s) })
	return v
}

// checkContract validates one answer of the API against the document: its
// status is documented for the route, a JSON body matches the schema of
// that status, another body has the documented content type. Requests to
// paths the API does not have are left alone (their 404 is checked by
// the envelope tests).
func checkContract(t testing.TB, s *Server, req *http.Request, rec *httptest.ResponseRecorder) {
	t.Helper()
	defer func() { contractChecks.Add(1) }()
	if !strings.HasPrefix(req.URL.Path, "/api/v1/") {
		return
	}
	v := validatorFor(t, s)
	op := v.find(req.Method, req.URL.Path)
	if op == nil {
		return // 404/405 of an unknown route, or a test-only route
	}
	where := req.Method + " " + req.URL.Path
	if rec.Code/100 == 2 {
		contractSeen.Store(op["operationId"], true)
		checkRequest(t, v, op, req, where)
	}
	resp := op["responses"].(map[string]any)
	st := strconv.Itoa(rec.Code)
	r, ok := resp[st].(map[string]any)
	if !ok {
		if rec.Code == http.StatusNotModified && req.Header.Get("If-None-Match") != "" {
			return
		}
		t.Errorf("contract: %s answered %d, which the document does not list (%s)", where, rec.Code, rec.Body.String())
		return
	}
	content, _ := r["content"].(map[string]any)
	if content == nil {
		if req.Method != http.MethodHead && rec.Body.Len() > 0 && rec.Code == http.StatusNoContent {
			t.Errorf("contract: %s answered %d with a body", where, rec.Code)
		}
		return
	}
	ct, _, _ := mime.ParseMediaType(rec.Header().Get("Content-Type"))
	if jm, ok := content["application/json"].(map[string]any); ok && ct == "application/json" && req.Method != http.MethodHead {
		schema := jm["schema"].(map[string]any)
		if schema["type"] == "string" {
			return // a document served as is (the OpenAPI document itself)
		}
		var body any
		if err := json.Unmarshal(rec.Body.Bytes(), &body); err != nil {
			t.Errorf("contract: %s answered %d with invalid JSON: %v", where, rec.Code, err)
			return
		}
		for _, p := range v.check(schema, body, "") {
			t.Errorf("contract: %s answered %d: body%s", where, rec.Code, p)
		}
		return
	}
	for m := range content {
		if m == ct || m == "application/octet-stream" {
			return
		}
	}
	t.Errorf("contract: %s answered %d as %q; the document says %v", where, rec.Code, ct, keys(content))
}

// checkRequest validates the JSON body of a request the server accepted
// against the documented request body: what the server takes, the
// document must allow.
func checkRequest(t testing.TB, v *contractValidator, op map[string]any, req *http.Request, where string) {
	t.Helper()
	ct, _, _ := mime.ParseMediaType(req.Header.Get("Content-Type"))
	if ct != "application/json" || req.GetBody == nil {
		return
	}
	rb, ok := op["requestBody"].(map[string]any)
	if !ok {
		return // a route without a body ignores one
	}
	jm, ok := rb["content"].(map[string]any)["application/json"].(map[string]any)
	if !ok {
		t.Errorf("contract: %s accepted JSON; the document lists %v", where, keys(rb["content"].(map[string]any)))
		return
	}
	r, err := req.GetBody()
	if err != nil {
		return
	}
	var body any
	if json.NewDecoder(r).Decode(&body) != nil {
		return
	}
	for _, p := range v.check(jm["schema"].(map[string]any), body, "") {
		t.Errorf("contract: %s accepted a request body the document refuses: body%s", where, p)
	}
}

func keys(m map[string]any) []string {
	var out []string
	for k := range m {
		out = append(out, k)
	}
	sort.Strings(out)
	return out
}

// The routes the rest of the suite only answers with errors get a success
// answer here, so the contract check sees every route succeed once.
func TestContractRoutesSucceed(t *testing.T) {
	t.Parallel()
	e := newMissionEnv(t)
	ok := func(want int, method, path, body string) map[string]any {
		t.Helper()
		rec := e.call(method, path, body, e.admin)
		require.Equal(t, want, rec.Code, "%s %s: %s", method, path, rec.Body.String())
		if rec.Body.Len() == 0 {
			return nil
		}
		return jsonBody(t, rec)
	}
	sc := e.scenarioTemplate("Discovery")
	ok(200, "PATCH", "/api/v1/scenario-templates/"+sc, `{"name":"Discovery, renamed","description":null}`)
	inst := ok(201, "POST", e.path("/scenarios"), fmt.Sprintf(`{"scenario_template_id":%q}`, sc))
	list := ok(200, "GET", e.path("/scenarios"), "")
	require.Len(t, list["items"], 1)
	sid := list["items"].([]any)[0].(map[string]any)["id"].(string)
	require.NotNil(t, inst)
	ok(204, "DELETE", e.path("/scenarios/"+sid), "")
	cat := ok(201, "POST", e.path("/categories"), `{"name":"Endpoint"}`)
	ok(200, "PATCH", e.path("/categories/"+cat["id"].(string)), `{"color":"#123456"}`)
	ok(200, "PATCH", e.path("/members/"+e.blueID), `{"role":"lead"}`)

	key := bundle.EncodePublicKey(mustKey(t).Public().(ed25519.PublicKey))
	k := ok(201, "POST", "/api/v1/trusted-keys", fmt.Sprintf(`{"public_key":%q,"label":"Peer"}`, key))
	ok(204, "DELETE", "/api/v1/trusted-keys?fingerprint="+url.QueryEscape(k["fingerprint"].(string)), "")

	b := e.exportBundle(e.admin, e.missionID, "")
	rec := e.postBundle(e.admin, b)
	require.Equal(t, 201, rec.Code, rec.Body.String())
	ok(204, "DELETE", "/api/v1/bundles/"+jsonBody(t, rec)["import_id"].(string), "")
}
