package server

import (
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"fmt"
	"net/http"
	"reflect"
	"regexp"
	"sort"
	"strconv"
	"strings"
	"time"

	"github.com/purplebook/purplebook/app/db"
	"github.com/uptrace/bunrouter"
)

// The OpenAPI 3.1 document of the API, built once at start from the route
// table: every Route row declares its summary, request body (In), success
// body (Out) and status, and the schemas come from the Go types by
// reflection (json tags, pointers as nullable, slices, maps, db.Time as a
// date-time string, db.Page[T] as the list envelope; a nil slice or map is
// a contract violation unless its field is tagged openapi:"nullable"), so the document
// cannot drift from the code. A test (openapi_test.go) fails when a route
// lacks a declaration, and the API suite validates every JSON answer it
// receives against the document.

// Media is a body that is not JSON: a download, a stream or a page.
type Media struct {
	Type string // content type, e.g. "text/csv"
	Desc string
}

// Form is a multipart/form-data request body: part name → what it holds.
// A part whose description starts with "file" is binary.
type Form map[string]string

// Alt is a request body accepted in several forms (JSON or multipart).
type Alt []any

// AnyOf is a JSON body that takes one of several shapes (the plan of a
// mission bundle or of a library bundle).
type AnyOf []any

// Responses declares several success answers by status (a route that
// answers 200 or 201, or a JSON 503).
type Responses map[int]any

// items is a list answered whole, without paging: {"items":[…],"total":N}.
type items[T any] struct {
	Items []T `json:"items"`
	Total int `json:"total"`
}

func itemsOf[T any](xs []T) items[T] {
	if xs == nil {
		xs = []T{}
	}
	return items[T]{Items: xs, Total: len(xs)}
}

// with adds the contract fields of c to a route made by a helper.
func with(r Route, c Route) Route {
	r.Summary, r.In, r.Out, r.Status, r.Query, r.Doc = c.Summary, c.In, c.Out, c.Status, c.Query, c.Doc
	return r
}

// paged is the query of a paged list: page, per_page and the given extras.
func paged(extra ...string) []string {
	return append([]string{"page: 1-based page number", "per_page: items per page (at most 200)"}, extra...)
}

// openAPIPath is the document's own route.
const openAPIPath = "/openapi.json"

// errorStatuses are the failures every route may answer, all with the
// error envelope.
var errorStatuses = []int{400, 401, 403, 404, 409, 410, 413, 422, 429, 500, 503}

type schemaGen struct {
	defs map[string]any
	seen map[reflect.Type]string
	// req: request bodies. Their properties are never "required" (a
	// missing key is the service's validation to judge, answered 422 by
	// name), and their components are kept apart from the answers'.
	req     bool
	reqSeen map[reflect.Type]string
}

var (
	timeType    = reflect.TypeFor[time.Time]()
	dbTimeType  = reflect.TypeFor[db.Time]()
	dbJSONType  = reflect.TypeFor[db.JSON]()
	rawJSONType = reflect.TypeFor[json.RawMessage]()
	durType     = reflect.TypeFor[time.Duration]()
)

var pkgPathRE = regexp.MustCompile(`[\w./-]*/`)

// requestName matches the names of request-only types, which keep their
// name as a request component.
var requestName = regexp.MustCompile(`(Params|Input|Request|Update|Patch|Body)$`)

// schemaName is a component name for a named type: "missions.Mission",
// "db.Page-missions.Mission-".
func schemaName(t reflect.Type) string {
	name := t.Name()
	pkg := t.PkgPath()
	if i := strings.LastIndex(pkg, "/"); i >= 0 {
		pkg = pkg[i+1:]
	}
	name = pkgPathRE.ReplaceAllString(name, "")
	name = strings.NewReplacer("[", "-", "]", "", ",", "-", "*", "", " ", "").Replace(name)
	return pkg + "." + name
}

// schema returns the JSON Schema of t; named structs become components.
func (g *schemaGen) schema(t reflect.Type) map[string]any {
	switch t {
	case timeType, dbTimeType:
		return map[string]any{"type": "string", "format": "date-time"}
	case dbJSONType, rawJSONType:
		return map[string]any{"description": "any JSON value"}
	case durType:
		return map[string]any{"type": "integer", "description": "nanoseconds"}
	}
	if t.Kind() == reflect.Struct && strings.HasPrefix(t.Name(), "Field[") && strings.HasSuffix(t.PkgPath(), "/patch") {
		// patch.Field[T]: absent = unchanged, null = cleared, value = set.
		v, _ := t.FieldByName("Value")
		return nullable(g.schema(v.Type))
	}
	switch t.Kind() {
	case reflect.Pointer:
		return nullable(g.schema(t.Elem()))
	case reflect.Bool:
		return map[string]any{"type": "boolean"}
	case reflect.Int, reflect.Int8, reflect.Int16, reflect.Int32, reflect.Int64,
		reflect.Uint, reflect.Uint8, reflect.Uint16, reflect.Uint32, reflect.Uint64:
		return map[string]any{"type": "integer"}
	case reflect.Float32, reflect.Float64:
		return map[string]any{"type": "number"}
	case reflect.String:
		return map[string]any{"type": "string"}
	case reflect.Slice, reflect.Array:
		if t.Elem().Kind() == reflect.Uint8 {
			return map[string]any{"type": "string", "contentEncoding": "base64"}
		}
		s := map[string]any{"type": "array", "items": g.schema(t.Elem())}
		if g.req { // encoding/json takes null as an empty list
			s["type"] = []any{"array", "null"}
		}
		return s
	case reflect.Map:
		s := map[string]any{"type": "object", "additionalProperties": g.schema(t.Elem())}
		if g.req {
			s["type"] = []any{"object", "null"}
		}
		return s
	case reflect.Interface:
		return map[string]any{}
	case reflect.Struct:
		if t.Name() == "" {
			return g.object(t)
		}
		seen := g.seen
		if g.req {
			seen = g.reqSeen
		}
		name, ok := seen[t]
		if !ok {
			name = schemaName(t)
			if g.req && !requestName.MatchString(t.Name()) {
				name += "-request"
			}
			seen[t] = name
			g.defs[name] = map[string]any{} // placeholder for recursion
			g.defs[name] = g.object(t)
		}
		return map[string]any{"$ref": "#/components/schemas/" + name}
	}
	panic(fmt.Sprintf("openapi: no schema for %s", t))
}

// nullable allows null besides s.
func nullable(s map[string]any) map[string]any {
	if typ, ok := s["type"].(string); ok && len(s) <= 3 {
		out := map[string]any{}
		for k, v := range s {
			out[k] = v
		}
		out["type"] = []any{typ, "null"}
		return out
	}
	if _, ok := s["type"]; !ok && len(s) <= 1 && s["$ref"] == nil {
		return s // any value
	}
	return map[string]any{"anyOf": []any{s, map[string]any{"type": "null"}}}
}

// object is a struct's schema as encoding/json writes it: exported
// fields by their json names, embedded structs flattened, omitempty and
// omitzero fields optional, no other properties.
func (g *schemaGen) object(t reflect.Type) map[string]any {
	props := map[string]any{}
	var required []string
	g.fields(t, props, &required, map[string]bool{})
	sort.Strings(required)
	s := map[string]any{"type": "object", "properties": props, "additionalProperties": false}
	if len(required) > 0 && !g.req {
		s["required"] = required
	}
	return s
}

func (g *schemaGen) fields(t reflect.Type, props map[string]any, required *[]string, shadow map[string]bool) {
	var embedded []reflect.StructField
	for i := range t.NumField() {
		f := t.Field(i)
		tag := f.Tag.Get("json")
		if tag == "-" {
			continue
		}
		name, opts, _ := strings.Cut(tag, ",")
		if f.Anonymous && name == "" {
			ft := f.Type
			if ft.Kind() == reflect.Pointer {
				ft = ft.Elem()
			}
			if ft.Kind() == reflect.Struct {
				embedded = append(embedded, f)
				continue
			}
		}
		if !f.IsExported() {
			continue
		}
		if name == "" {
			name = f.Name
		}
		shadow[name] = true
		s := g.schema(f.Type)
		if strings.Contains(opts, "string") {
			s = map[string]any{"type": "string"}
		}
		if f.Tag.Get("openapi") == "nullable" { // a slice or map whose null means something
			s = nullable(s)
		}
		if d := f.Tag.Get("doc"); d != "" { // what the field means, for the document
			c := map[string]any{"description": d}
			for k, v := range s {
				c[k] = v
			}
			s = c
		}
		props[name] = s
		if !strings.Contains(opts, "omitempty") && !strings.Contains(opts, "omitzero") {
			*required = append(*required, name)
		}
	}
	// Fields of embedded structs, unless a shallower field has the name
	// (encoding/json's rule).
	for _, f := range embedded {
		ft := f.Type
		opt := ft.Kind() == reflect.Pointer
		if opt {
			ft = ft.Elem()
		}
		sub := map[string]any{}
		var req []string
		g.fields(ft, sub, &req, map[string]bool{})
		for k, v := range sub {
			if !shadow[k] {
				props[k] = v
			}
		}
		for _, k := range req {
			if !shadow[k] && !opt {
				*required = append(*required, k)
			}
		}
	}
}

// jsonMedia is the media type of every JSON answer.
const jsonMedia = "application/json"

// body describes v (a Go value, Media, Form or Alt) as an OpenAPI content map.
func (g *schemaGen) content(v any) map[string]any {
	switch x := v.(type) {
	case Media:
		s := map[string]any{}
		if x.Type == "application/octet-stream" || !strings.HasPrefix(x.Type, "text/") && !strings.Contains(x.Type, "json") {
			s = map[string]any{"type": "string", "contentMediaType": x.Type}
		} else {
			s = map[string]any{"type": "string"}
		}
		return map[string]any{x.Type: map[string]any{"schema": s}}
	case Form:
		props := map[string]any{}
		var req []string
		for k, d := range x {
			p := map[string]any{"type": "string", "description": d}
			if strings.HasPrefix(d, "file") {
				p["contentMediaType"] = "application/octet-stream"
			}
			if strings.HasSuffix(d, "(required)") {
				req = append(req, k)
			}
			props[k] = p
		}
		sort.Strings(req)
		s := map[string]any{"type": "object", "properties": props}
		if len(req) > 0 {
			s["required"] = req
		}
		return map[string]any{"multipart/form-data": map[string]any{"schema": s}}
	case AnyOf:
		alts := make([]any, len(x))
		for i, a := range x {
			alts[i] = g.schema(reflect.TypeOf(a))
		}
		return map[string]any{jsonMedia: map[string]any{"schema": map[string]any{"anyOf": alts}}}
	case Alt:
		out := map[string]any{}
		for _, a := range x {
			for k, c := range g.content(a) {
				out[k] = c
			}
		}
		return out
	}
	return map[string]any{jsonMedia: map[string]any{"schema": g.schema(reflect.TypeOf(v))}}
}

var pathParamRE = regexp.MustCompile(`:(\w+)`)

// openAPIPathOf turns a bunrouter path into an OpenAPI one: /a/:id → /a/{id}.
func openAPIPathOf(p string) string { return pathParamRE.ReplaceAllString(p, "{$1}") }

// tagOf groups a route by its first path segment.
func tagOf(p string) string {
	seg := strings.Split(strings.TrimPrefix(p, "/"), "/")[0]
	switch seg {
	case "test-templates", "scenario-templates", "library":
		return "library"
	case "me", "system", "diag", "health", "setup", "openapi.json":
		return "system"
	case "coverage", "layers":
		return "results"
	case "bundles", "trusted-keys", "instance":
		return "bundles"
	case "users", "groups", "permissions", "invitations", "audit":
		return "administration"
	case "api-tokens", "settings":
		return "account"
	case "detection-levels", "security-controls":
		return "settings"
	}
	return seg
}

// buildOpenAPI makes the document from the route table; a route without a
// declared answer is an error (the server then answers 500 for the
// document, and the tests fail).
func buildOpenAPI(routes []Route, version string) (doc map[string]any, err error) {
	defer func() {
		if v := recover(); v != nil { // a Go type the generator cannot describe
			err = fmt.Errorf("openapi: %v", v)
		}
	}()
	g := &schemaGen{defs: map[string]any{}, seen: map[reflect.Type]string{}, reqSeen: map[reflect.Type]string{}}
	g.defs["Error"] = map[string]any{
		"type":                 "object",
		"description":          `The answer of every failure: {"error":{"code","message","details"},"request_id"}.`,
		"required":             []any{"error"},
		"additionalProperties": false,
		"properties": map[string]any{
			"error": map[string]any{
				"type": "object", "required": []any{"code", "message", "details"}, "additionalProperties": false,
				"properties": map[string]any{
					"code":    map[string]any{"type": "string", "description": "snake_case, stable"},
					"message": map[string]any{"type": "string", "description": "a sentence for people"},
					"details": map[string]any{"type": "object", "description": "per-field problems or other facts"},
				},
			},
			"request_id": map[string]any{"type": "string", "description": "also in the X-Request-ID header and the server log"},
		},
	}
	errResponses := map[string]any{}
	for _, st := range errorStatuses {
		errResponses[strconv.Itoa(st)] = map[string]any{
			"description": http.StatusText(st),
			"content":     map[string]any{jsonMedia: map[string]any{"schema": map[string]any{"$ref": "#/components/schemas/Error"}}},
		}
	}
	paths := map[string]any{}
	for _, rt := range routes {
		op := map[string]any{
			"operationId": strings.ToLower(rt.Method) + strings.NewReplacer("/", "_", ":", "", ".", "_", "-", "_").Replace(rt.Path),
			"summary":     rt.Summary,
			"tags":        []any{tagOf(rt.Path)},
		}
		var params []any
		for _, m := range pathParamRE.FindAllStringSubmatch(rt.Path, -1) {
			params = append(params, map[string]any{"name": m[1], "in": "path", "required": true, "schema": map[string]any{"type": "string"}})
		}
		for _, q := range rt.Query {
			name, desc, _ := strings.Cut(q, ":")
			params = append(params, map[string]any{"name": name, "in": "query", "schema": map[string]any{"type": "string"},
				"description": strings.TrimSpace(desc)})
		}
		if params != nil {
			op["parameters"] = params
		}
		var desc []string
		switch rt.Access {
		case Public:
			op["security"] = []any{}
			op["x-access"] = "public"
			desc = append(desc, "Public: no token needed.")
		case Authenticated:
			op["x-access"] = "authenticated"
			desc = append(desc, "Any signed-in user.")
		case Permission:
			op["x-access"] = "permission"
			op["x-permission"] = rt.Perm
			desc = append(desc, "Needs the `"+rt.Perm+"` permission.")
		}
		if rt.Access != Public {
			scheme := "bearer"
			if rt.Session {
				scheme = "session"
				op["x-session-only"] = true
				desc = append(desc, "Only a login session may call it; a personal API token gets 403 session_required.")
			}
			op["security"] = []any{map[string]any{scheme: []any{}}}
		}
		if rt.Doc != "" {
			desc = append(desc, rt.Doc)
		}
		op["description"] = strings.Join(desc, " ")
		limit := rt.Limit
		if limit == 0 {
			limit = DefaultBodyLimit
		}
		if rt.In != nil {
			g.req = true
			op["requestBody"] = map[string]any{"required": true, "content": g.content(rt.In)}
			g.req = false
			op["x-body-limit"] = limit
		}
		resp := map[string]any{}
		for k, v := range errResponses {
			resp[k] = v
		}
		switch out := rt.Out.(type) {
		case nil:
			if rt.Status != http.StatusNoContent {
				return nil, fmt.Errorf("openapi: %s %s declares no answer: set Out, or Status: 204", rt.Method, rt.Path)
			}
			resp["204"] = map[string]any{"description": "No content"}
		case Responses:
			for st, v := range out {
				r := map[string]any{"description": http.StatusText(st)}
				if v != nil {
					r["content"] = g.content(v)
				}
				if m, ok := v.(Media); ok && m.Desc != "" {
					r["description"] = m.Desc
				}
				resp[strconv.Itoa(st)] = r
			}
		default:
			st := rt.Status
			if st == 0 {
				st = http.StatusOK
			}
			r := map[string]any{"description": http.StatusText(st), "content": g.content(out)}
			if m, ok := out.(Media); ok && m.Desc != "" {
				r["description"] = m.Desc
			}
			resp[strconv.Itoa(st)] = r
		}
		op["responses"] = resp
		p := openAPIPathOf(rt.Path)
		item, _ := paths["/api/v1"+p].(map[string]any)
		if item == nil {
			item = map[string]any{}
			paths["/api/v1"+p] = item
		}
		item[strings.ToLower(rt.Method)] = op
	}
	return map[string]any{
		"openapi": "3.1.0",
		"servers": []any{map[string]any{"url": "/"}},
		"info": map[string]any{
			"title":   "Purplebook API",
			"version": version,
			"description": "Purple-team engagement tracker. Errors use the Error envelope; lists are " +
				`{"items","total","page","per_page"} with page/per_page (max 200); PATCH tells an absent key (unchanged) ` +
				"from null (cleared); unknown JSON fields are refused with 400. x-permission names the permission a route " +
				"needs; x-session-only routes refuse personal API tokens.",
		},
		"paths": paths,
		"components": map[string]any{
			"schemas": g.defs,
			"securitySchemes": map[string]any{
				"bearer":  map[string]any{"type": "http", "scheme": "bearer", "description": "a login access token or a personal API token (pbk_…)"},
				"session": map[string]any{"type": "http", "scheme": "bearer", "description": "a login access token (not an API token)"},
			},
		},
	}, nil
}

// openAPIDoc is the encoded document and its ETag, made once when the
// router is built.
type openAPIDoc struct {
	body []byte
	etag string
	err  error
}

func newOpenAPIDoc(routes []Route, version string) *openAPIDoc {
	doc, err := buildOpenAPI(routes, version)
	if err != nil {
		return &openAPIDoc{err: err}
	}
	b, err := json.Marshal(doc)
	if err != nil {
		return &openAPIDoc{err: fmt.Errorf("openapi: encode: %w", err)}
	}
	sum := sha256.Sum256(b)
	return &openAPIDoc{body: b, etag: `"` + hex.EncodeToString(sum[:16]) + `"`}
}

// openAPI serves the document: public, cacheable, revalidated by ETag.
func (s *Server) openAPI(w http.ResponseWriter, req bunrouter.Request) error {
	d := s.openapi
	if d.err != nil {
		return fmt.Errorf("server: %w", d.err)
	}
	h := w.Header()
	h.Set("Cache-Control", "public, max-age=300")
	h.Set("ETag", d.etag)
	if req.Header.Get("If-None-Match") == d.etag {
		w.WriteHeader(http.StatusNotModified)
		return nil
	}
	h.Set("Content-Type", "application/json; charset=utf-8")
	w.WriteHeader(http.StatusOK)
	if _, err := w.Write(d.body); err != nil {
		return errResponseWritten
	}
	return nil
}
