//go:build !nocontract

package httpapi

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"maps"
	"net/http"
	"net/http/httptest"
	"slices"
	"strconv"
	"strings"
	"testing"

	"github.com/getkin/kin-openapi/openapi3"
	"github.com/getkin/kin-openapi/openapi3filter"
	"github.com/getkin/kin-openapi/routers"
	"github.com/getkin/kin-openapi/routers/legacy"
	"github.com/pb33f/libopenapi"
	validator "github.com/pb33f/libopenapi-validator"
	pbconfig "github.com/pb33f/libopenapi-validator/config"
	pberrors "github.com/pb33f/libopenapi-validator/errors"
	pbresponses "github.com/pb33f/libopenapi-validator/responses"
	pbschema "github.com/pb33f/libopenapi-validator/schema_validation"
	v3 "github.com/pb33f/libopenapi/datamodel/high/v3"

	"tgauth/internal/account"
	"tgauth/internal/config"
)

// opKey names an operation of the spec: a method and a path as the spec
// spells it.
type opKey struct{ method, path string }

func (k opKey) String() string { return k.method + " " + k.path }

// contract drives the real router and checks every answer against
// openapi.yaml, recording which statuses of which operations it saw. Two
// independent validators check each answer: kin-openapi (doc, router) and
// pb33f's libopenapi-validator (model, pb), so a bug or a gap in one of
// them does not let a wrong answer through.
type contract struct {
	doc    *openapi3.T
	router routers.Router
	model  *v3.Document
	pb     validator.Validator
	pbOpts []pbconfig.Option
	seen   map[opKey]map[int]bool
}

// loadContract loads and validates openapi.yaml with kin-openapi. The
// document is 3.1: kin-openapi v0.153.0 detects that from the openapi
// field and validates schemas as JSON Schema 2020-12 (doc.Validate and
// ValidateResponse turn that on by themselves).
func loadContract(t *testing.T) *contract {
	t.Helper()
	// application/problem+json is JSON; kin-openapi registers this
	// decoder itself, but the test must not depend on that default.
	openapi3filter.RegisterBodyDecoder("application/problem+json", openapi3filter.JSONBodyDecoder)
	// GET /docs answers HTML, which kin-openapi has no decoder for.
	openapi3filter.RegisterBodyDecoder("text/html", openapi3filter.PlainBodyDecoder)

	doc, err := openapi3.NewLoader().LoadFromData(openAPISpec)
	if err != nil {
		t.Fatalf("load openapi.yaml: %v", err)
	}
	if !doc.IsOpenAPI31OrLater() || doc.OpenAPI != "3.1.0" {
		t.Fatalf("openapi = %q, want 3.1.0", doc.OpenAPI)
	}
	if err := doc.Validate(t.Context(), openapi3.EnableExamplesValidation()); err != nil {
		t.Fatalf("openapi.yaml is not a valid OpenAPI document: %v", err)
	}
	r, err := legacy.NewRouter(doc)
	if err != nil {
		t.Fatalf("router: %v", err)
	}
	ct := &contract{doc: doc, router: r, seen: map[opKey]map[int]bool{}}
	ct.loadLibOpenAPI(t)
	return ct
}

// loadLibOpenAPI loads openapi.yaml a second time, with libopenapi, and
// validates it against the OpenAPI 3.1 schema.
func (ct *contract) loadLibOpenAPI(t *testing.T) {
	t.Helper()
	pdoc, err := libopenapi.NewDocument(openAPISpec)
	if err != nil {
		t.Fatalf("libopenapi: load openapi.yaml: %v", err)
	}
	m, err := pdoc.BuildV3Model()
	if err != nil {
		t.Fatalf("libopenapi: build the model of openapi.yaml: %v", err)
	}
	// Formats (email, date-time, uri) are checked, as kin-openapi does;
	// YAML and text bodies are decoded, so GET /openapi.yaml and
	// /metrics are checked too.
	ct.pbOpts = []pbconfig.Option{pbconfig.WithFormatAssertions(), pbconfig.WithStandardBodyDecoders()}
	v, errs := validator.NewValidator(pdoc, ct.pbOpts...)
	if len(errs) > 0 {
		t.Fatalf("libopenapi-validator: %v", errors.Join(errs...))
	}
	if ok, verrs := v.ValidateDocument(); !ok {
		t.Fatalf("libopenapi-validator: openapi.yaml is not a valid OpenAPI document: %s", pbErrors(verrs))
	}
	ct.model, ct.pb = &m.Model, v
}

// pbErrors joins libopenapi-validator's errors into one message.
func pbErrors(errs []*pberrors.ValidationError) string {
	msgs := make([]string, len(errs))
	for i, e := range errs {
		msgs[i] = e.Error()
	}
	return strings.Join(msgs, "; ")
}

// ops returns every operation of the spec.
func (ct *contract) ops() []opKey {
	var ops []opKey
	for path, item := range ct.doc.Paths.Map() {
		for method := range item.Operations() {
			ops = append(ops, opKey{method, path})
		}
	}
	slices.SortFunc(ops, func(a, b opKey) int { return strings.Compare(a.String(), b.String()) })
	return ops
}

func (ct *contract) operation(k opKey) *openapi3.Operation {
	return ct.doc.Paths.Value(k.path).GetOperation(k.method)
}

// toggleSlash returns path with a trailing slash added or removed.
func toggleSlash(path string) string {
	if p, ok := strings.CutSuffix(path, "/"); ok {
		return p
	}
	return path + "/"
}

func newHTTPRequest(r request) *http.Request {
	req := httptest.NewRequest(r.method, r.path, strings.NewReader(r.body))
	if r.contentType != "" {
		req.Header.Set("Content-Type", r.contentType)
	}
	for k, v := range r.header {
		req.Header.Set(k, v)
	}
	return req
}

// findRoute finds the spec operation of req, whose path may be the other
// trailing-slash form of the one the spec writes.
func (ct *contract) findRoute(req *http.Request) (*routers.Route, map[string]string, error) {
	route, params, err := ct.router.FindRoute(req)
	if err == nil {
		return route, params, nil
	}
	alt := req.Clone(req.Context())
	alt.URL.Path = toggleSlash(req.URL.Path)
	if route, params, err2 := ct.router.FindRoute(alt); err2 == nil {
		return route, params, nil
	}
	return nil, nil, err
}

// authenticate checks that a request the server accepted carries what the
// spec's security requirements say: a bearer token, a client token.
func authenticate(_ context.Context, in *openapi3filter.AuthenticationInput) error {
	h := in.RequestValidationInput.Request.Header
	switch in.SecuritySchemeName {
	case "bearer":
		// The scheme is case-insensitive (RFC 9110, section 11.1).
		if scheme, _, _ := strings.Cut(h.Get("Authorization"), " "); !strings.EqualFold(scheme, "Bearer") {
			return errors.New("no bearer token")
		}
	case "clientToken":
		if h.Get("x-auth-token") == "" {
			return errors.New("no x-auth-token")
		}
	default:
		return fmt.Errorf("unknown security scheme %q", in.SecuritySchemeName)
	}
	return nil
}

// call sends r through e's router and checks the answer against the spec
// operation r names: its status must be documented, its headers and body
// must match. A request the server accepted (2xx) must also match the
// spec's request side, so the spec cannot refuse what the server takes.
func (ct *contract) call(t *testing.T, e *env, r request) *httptest.ResponseRecorder {
	t.Helper()
	return ct.exchange(t, e, r, true)
}

// exchange is call; strict says whether a 2xx must also answer a request
// the spec takes. The generated broken bodies of TestOpenAPIProperties are
// not strict: the server may take what a schema does not promise (a field
// it ignores, such as username beside email, may be anything).
func (ct *contract) exchange(t *testing.T, e *env, r request, strict bool) *httptest.ResponseRecorder {
	t.Helper()
	rec := e.do(r)
	req := newHTTPRequest(r)
	route, params, err := ct.findRoute(req)
	if err != nil {
		t.Errorf("%s %s answered %d but the spec has no such operation: %v", r.method, r.path, rec.Code, err)
		return rec
	}
	in := &openapi3filter.RequestValidationInput{
		Request:    req,
		PathParams: params,
		Route:      route,
		Options:    &openapi3filter.Options{AuthenticationFunc: authenticate},
	}
	if strict && rec.Code/100 == 2 {
		if err := openapi3filter.ValidateRequest(t.Context(), in); err != nil {
			t.Errorf("%s %s answered %d but the spec refuses the request: %v", r.method, r.path, rec.Code, err)
		}
	}
	ct.validateResponse(t, in, rec)
	ct.validateResponsePB(t, req, route.Path, rec)
	k := opKey{route.Method, route.Path}
	if ct.seen[k] == nil {
		ct.seen[k] = map[int]bool{}
	}
	ct.seen[k][rec.Code] = true
	return rec
}

func (ct *contract) validateResponse(t *testing.T, in *openapi3filter.RequestValidationInput, rec *httptest.ResponseRecorder) {
	t.Helper()
	if err := kinResponseErr(t.Context(), in, rec); err != nil {
		t.Errorf("%s %s: response %d %s does not match the spec: %v",
			in.Request.Method, in.Request.URL.Path, rec.Code, rec.Body.Bytes(), err)
	}
}

// kinResponseErr checks rec against the operation of in with kin-openapi:
// a documented status, its headers, its media type and its body.
func kinResponseErr(ctx context.Context, in *openapi3filter.RequestValidationInput, rec *httptest.ResponseRecorder) error {
	out := &openapi3filter.ResponseValidationInput{
		RequestValidationInput: in,
		Status:                 rec.Code,
		Header:                 rec.Header(),
		Options:                &openapi3filter.Options{IncludeResponseStatus: true},
	}
	out.SetBodyBytes(rec.Body.Bytes())
	return openapi3filter.ValidateResponse(ctx, out)
}

// callUnrouted sends r, which no spec operation answers (an unknown path,
// a wrong method), and checks the answer against the shared response the
// spec names for it.
func (ct *contract) callUnrouted(t *testing.T, e *env, r request, status int, response string) {
	t.Helper()
	rec := e.do(r)
	req := newHTTPRequest(r)
	if _, _, err := ct.findRoute(req); err == nil {
		t.Fatalf("%s %s is a spec operation", r.method, r.path)
	}
	ref := ct.doc.Components.Responses[response]
	if ref == nil {
		t.Fatalf("the spec has no components.responses.%s", response)
	}
	op := openapi3.NewOperation()
	op.Responses = openapi3.NewResponses(openapi3.WithStatus(status, ref))
	in := &openapi3filter.RequestValidationInput{
		Request: req,
		Route:   &routers.Route{Spec: ct.doc, Path: r.path, Method: r.method, Operation: op},
	}
	ct.validateResponse(t, in, rec)
	ct.validateUnroutedPB(t, req, status, response, rec)
}

// validateResponsePB checks rec against the operation of req at the spec
// path specPath with libopenapi-validator: a documented status, its
// headers, its media type and its body.
func (ct *contract) validateResponsePB(t *testing.T, req *http.Request, specPath string, rec *httptest.ResponseRecorder) {
	t.Helper()
	if err := ct.pbResponseErr(req, specPath, rec); err != nil {
		t.Errorf("%s %s: response %d %s does not match the spec (libopenapi-validator): %v",
			req.Method, req.URL.Path, rec.Code, rec.Body.Bytes(), err)
	}
}

// pbResponseErr is validateResponsePB's check.
func (ct *contract) pbResponseErr(req *http.Request, specPath string, rec *httptest.ResponseRecorder) error {
	item := ct.model.Paths.PathItems.GetOrZero(specPath)
	if item == nil {
		return fmt.Errorf("the spec has no path %s", specPath)
	}
	if ok, errs := ct.pb.GetResponseBodyValidator().ValidateResponseBodyWithPathItem(req, rec.Result(), item, specPath); !ok {
		return errors.New(pbErrors(errs))
	}
	return nil
}

// validateUnroutedPB checks rec, which no operation answers, against the
// shared response named response with libopenapi-validator: its headers,
// its media type and its body's schema.
func (ct *contract) validateUnroutedPB(t *testing.T, req *http.Request, status int, response string, rec *httptest.ResponseRecorder) {
	t.Helper()
	resp := ct.model.Components.Responses.GetOrZero(response)
	if resp == nil {
		t.Errorf("libopenapi-validator: the spec has no components.responses.%s", response)
		return
	}
	res := rec.Result()
	if ok, errs := pbresponses.ValidateResponseHeaders(req, res, resp.Headers, req.URL.Path, strconv.Itoa(status), ct.pbOpts...); !ok {
		t.Errorf("%s %s: response %d headers do not match %s (libopenapi-validator): %s",
			req.Method, req.URL.Path, rec.Code, response, pbErrors(errs))
	}
	mediaType := res.Header.Get("Content-Type")
	mt := resp.Content.GetOrZero(mediaType)
	if mt == nil || mt.Schema == nil {
		t.Errorf("%s %s: response %d is %s, which %s does not document (libopenapi-validator)",
			req.Method, req.URL.Path, rec.Code, mediaType, response)
		return
	}
	if ok, errs := pbschema.NewSchemaValidator(ct.pbOpts...).ValidateSchemaBytes(mt.Schema.Schema(), rec.Body.Bytes()); !ok {
		t.Errorf("%s %s: response %d %s does not match %s (libopenapi-validator): %s",
			req.Method, req.URL.Path, rec.Code, rec.Body.Bytes(), response, pbErrors(errs))
	}
}

// want calls r and fails unless it answered status.
func (ct *contract) want(t *testing.T, e *env, r request, status int) *httptest.ResponseRecorder {
	t.Helper()
	rec := ct.call(t, e, r)
	if rec.Code != status {
		t.Fatalf("%s %s = %d %s, want %d", r.method, r.path, rec.Code, rec.Body, status)
	}
	return rec
}

// wantProblem calls r and fails unless it answered the problem status, code.
func (ct *contract) wantProblem(t *testing.T, e *env, r request, status int, code string) problem {
	t.Helper()
	return wantProblem(t, ct.call(t, e, r), status, code)
}

func pairOf(t *testing.T, rec *httptest.ResponseRecorder) pairResponse {
	t.Helper()
	var p pairResponse
	decode(t, rec, &p)
	return p
}

// The scenarios' accounts, after the seeds' examples.

// TestOpenAPI drives every route of the real router through its successes
// and the errors the spec documents, and checks each answer against
// openapi.yaml. In the end every spec operation and every status it
// documents must have been seen (but for the few no test can cause), and
// the spec and the router must list the same routes.
func TestOpenAPI(t *testing.T) {
	ct := loadContract(t)

	t.Run("router and spec list the same routes", func(t *testing.T) {
		contractRoutes(t, ct, newEnv(t))
	})
	t.Run("watchdog and nowatch", func(t *testing.T) { contractMain(t, ct) })
	t.Run("request bodies", func(t *testing.T) { contractBodies(t, ct) })
	t.Run("telegram link", func(t *testing.T) {
		e := newEnv(t, withService(account.Options{BotUsername: "tgauth_bot"}))
		e.register("spongebob", goodPassword, spongebobChat)
		tok := e.login("spongebob", goodPassword)
		link := jsonPost(t, "/v1/telegram/link", bearer(tok), map[string]any{"password": goodPassword})
		ct.wantProblem(t, e, jsonPost(t, "/v1/telegram/link", bearer(tok), map[string]any{}), http.StatusBadRequest, "validation_failed")
		ct.wantProblem(t, e, jsonPost(t, "/v1/telegram/link", bearer(tok), map[string]any{"password": "Wrong-Pass1!"}), http.StatusForbidden, "wrong_password")
		rec := ct.want(t, e, link, http.StatusOK)
		var l linkResponse
		decode(t, rec, &l)
		if !strings.HasPrefix(l.Link, "https://t.me/tgauth_bot?start=") || !l.ExpiresAt.After(e.clock.Now()) {
			t.Errorf("link = %+v", l)
		}
	})
	t.Run("rate limits", func(t *testing.T) { contractRateLimits(t, ct) })
	t.Run("client tokens", func(t *testing.T) { contractClientTokens(t, ct) })
	t.Run("not ready", func(t *testing.T) {
		e := newEnv(t)
		e.store.Close()
		ct.wantProblem(t, e, getReq("/readyz", nil), http.StatusServiceUnavailable, "not_ready")
	})
	t.Run("both slash forms", func(t *testing.T) { contractSlashForms(t, ct) })
	t.Run("unrouted", func(t *testing.T) {
		e := newEnv(t)
		ct.callUnrouted(t, e, getReq("/v1/nope", nil), http.StatusNotFound, "NotFound")
		ct.callUnrouted(t, e, getReq("/v1/login/", nil), http.StatusMethodNotAllowed, "MethodNotAllowed")
		ct.callUnrouted(t, e, request{method: http.MethodDelete, path: "/v1/me"}, http.StatusMethodNotAllowed, "MethodNotAllowed")
	})
	if t.Failed() {
		return // coverage would only repeat what failed
	}

	t.Run("every documented status seen", func(t *testing.T) {
		// No test can cause these: a panic or a broken store (500), a
		// store too slow for the deadline (503 unavailable), a password
		// changed between two steps of one change (409 conflict).
		unreachable := []string{
			"#/components/responses/InternalError",
			"#/components/responses/Unavailable",
			"#/components/responses/Conflict",
		}
		for _, k := range ct.ops() {
			seen := ct.seen[k]
			if !slices.ContainsFunc(slices.Collect(maps.Keys(seen)), func(s int) bool { return s/100 == 2 }) {
				t.Errorf("%s: no success seen", k)
			}
			for code, ref := range ct.operation(k).Responses.Map() {
				status, err := strconv.Atoi(code)
				if err != nil {
					t.Errorf("%s: response %q is not a status", k, code)
					continue
				}
				if !seen[status] && !slices.Contains(unreachable, ref.Ref) {
					t.Errorf("%s: documented status %d never seen", k, status)
				}
			}
		}
	})
}

func contractMain(t *testing.T, ct *contract) {
	e := newEnv(t)
	ctx := t.Context()

	// Watchdog: register, as the seed's curl -d and as JSON.
	rec := ct.want(t, e, formPost("/v1/register/", nil, "username", "spongebob", "password", goodPassword, "account", spongebobChat), http.StatusCreated)
	if got, want := rec.Body.String(), `{"message":"User spongebob was created","id":1,"chat_id":123456789}`; got != want {
		t.Errorf("register = %s, want %s", got, want)
	}
	ct.want(t, e, jsonPost(t, "/v1/register", nil, map[string]any{"username": "patrick", "password": "Starfish-99!", "account": 987654321}), http.StatusCreated)
	e.confirmChat(1, spongebobChat) // as the chat's Yes button does
	p := ct.wantProblem(t, e, formPost("/v1/register/", nil, "username", "sandy", "password", "short", "account", "-5"), http.StatusBadRequest, "validation_failed")
	if len(p.Errors) < 3 {
		t.Errorf("validation errors = %+v, want one per broken rule", p.Errors)
	}
	ct.wantProblem(t, e, formPost("/v1/register/", nil, "username", "SpongeBob", "password", goodPassword, "account", "42"), http.StatusConflict, "already_exists")

	// Watchdog: login.
	var tok tokenResponse
	decode(t, ct.want(t, e, formPost("/v1/login/", nil, "username", "spongebob", "password", goodPassword), http.StatusOK), &tok)
	ct.want(t, e, jsonPost(t, "/v1/login", nil, map[string]any{"username": "patrick", "password": "Starfish-99!"}), http.StatusOK)
	ct.wantProblem(t, e, formPost("/v1/login/", nil, "username", "spongebob", "password", "Wrong-Pass1!"), http.StatusUnauthorized, "invalid_credentials")
	ct.wantProblem(t, e, formPost("/v1/login/", nil, "username", "spongebob"), http.StatusBadRequest, "validation_failed")

	// Watchdog: me.
	var prof profileResponse
	decode(t, ct.want(t, e, getReq("/v1/me", bearer(tok.Token)), http.StatusOK), &prof)
	if nullable(prof.Username) != "spongebob" || prof.Email != nil || prof.FirstName != nil || !prof.TelegramLinked || prof.Role != "user" {
		t.Errorf("profile = %+v, want spongebob with a null email and name", prof)
	}
	ct.wantProblem(t, e, getReq("/v1/me", nil), http.StatusUnauthorized, "missing_token")
	ct.wantProblem(t, e, getReq("/v1/me", bearer("not-a-token")), http.StatusUnauthorized, "invalid_token")

	// Watchdog: change-password.
	cp := "/v1/change-password/"
	ct.wantProblem(t, e, formPost(cp, nil, "old_password", goodPassword, "new_password", changedPassword), http.StatusUnauthorized, "missing_token")
	ct.wantProblem(t, e, formPost(cp, bearer("a.b.c"), "old_password", goodPassword, "new_password", changedPassword), http.StatusUnauthorized, "invalid_token")
	ct.wantProblem(t, e, formPost(cp, bearer(tok.Token), "old_password", goodPassword, "new_password", "password"), http.StatusBadRequest, "validation_failed")
	ct.wantProblem(t, e, formPost(cp, bearer(tok.Token), "old_password", "Wrong-Pass1!", "new_password", changedPassword), http.StatusForbidden, "wrong_password")
	rec = ct.want(t, e, formPost(cp, bearer(tok.Token), "old_password", goodPassword, "new_password", changedPassword), http.StatusOK)
	if got, want := rec.Body.String(), `{"message":"Password changed successfully"}`; got != want {
		t.Errorf("change-password = %s, want %s", got, want)
	}

	// NOWATCH: register, with the seed's JSON and as a form.
	reg := "/v1/auth/register"
	ct.want(t, e, jsonPost(t, reg, map[string]string{"x-auth-token": "string"}, map[string]any{
		"email": spongebobEmail, "password": goodPassword, "first_name": "Sponge Bob", "last_name": "Squarepants",
		"toc_accepted_at": tocAcceptedAt, "privacy_policy_accepted_at": tocAcceptedAt,
	}), http.StatusCreated)
	ct.want(t, e, formPost(reg, nil, "email", garryEmail, "password", goodPassword, "first_name", "Gary",
		"toc_accepted_at", tocAcceptedAt, "privacy_policy_accepted_at", tocAcceptedAt), http.StatusCreated)
	ct.wantProblem(t, e, jsonPost(t, reg, nil, map[string]any{"email": "not-an-email", "password": "bigbob"}), http.StatusBadRequest, "validation_failed")
	ct.wantProblem(t, e, jsonPost(t, reg, nil, map[string]any{"email": true}), http.StatusBadRequest, "validation_failed")
	ct.wantProblem(t, e, jsonPost(t, reg, nil, map[string]any{
		"email": "SPONGEBOB@bikinibottom.com", "password": goodPassword, "first_name": "Imposter",
		"toc_accepted_at": tocAcceptedAt, "privacy_policy_accepted_at": tocAcceptedAt,
	}), http.StatusConflict, "already_exists")
	if _, err := e.server.accounts.CreateUser(ctx, account.CreateUserParams{Email: krabsEmail, Password: krabsPassword, Admin: true}); err != nil {
		t.Fatal(err)
	}

	// NOWATCH: the three logins.
	for _, path := range []string{"/v1/auth/login", "/v2/auth/login", "/v2/auth/login/admin"} {
		who, pw := garryEmail, goodPassword
		if strings.HasSuffix(path, "/admin") {
			who, pw = krabsEmail, krabsPassword
		}
		pair := pairOf(t, ct.want(t, e, jsonPost(t, path, nil, map[string]any{"email": who, "password": pw}), http.StatusOK))
		if pair.ExpiresIn != 3600 || pair.Access == "" || pair.Refresh == "" {
			t.Errorf("%s pair = %+v", path, pair)
		}
		ct.want(t, e, formPost(path, nil, "email", who, "password", pw), http.StatusOK)
		ct.wantProblem(t, e, jsonPost(t, path, nil, map[string]any{"email": who, "password": "Wrong-Pass1!"}), http.StatusUnauthorized, "invalid_credentials")
		ct.wantProblem(t, e, jsonPost(t, path, nil, map[string]any{"email": who}), http.StatusBadRequest, "validation_failed")
	}
	ct.want(t, e, formPost("/v2/auth/login", nil, "username", "patrick", "password", "Starfish-99!"), http.StatusOK)
	ct.wantProblem(t, e, jsonPost(t, "/v2/auth/login/admin", nil, map[string]any{"email": garryEmail, "password": goodPassword}), http.StatusForbidden, "forbidden")

	// NOWATCH: refresh rotates; the spent token is a reuse.
	first := pairOf(t, ct.want(t, e, jsonPost(t, "/v2/auth/login", nil, map[string]any{"email": garryEmail, "password": goodPassword}), http.StatusOK))
	ct.want(t, e, jsonPost(t, "/v1/auth/refresh", nil, map[string]any{"refresh": first.Refresh}), http.StatusOK)
	ct.wantProblem(t, e, formPost("/v1/auth/refresh", nil, "refresh", first.Refresh), http.StatusUnauthorized, "invalid_token")
	ct.wantProblem(t, e, formPost("/v1/auth/refresh", nil, "refresh", "a.b.c"), http.StatusUnauthorized, "invalid_token")
	ct.wantProblem(t, e, jsonPost(t, "/v1/auth/refresh", nil, map[string]any{}), http.StatusBadRequest, "validation_failed")

	// NOWATCH: forgot_password and confirm_new_password, for the Watchdog
	// user (who has a chat) named by username.
	ct.want(t, e, jsonPost(t, "/v1/auth/forgot_password", nil, map[string]any{"username": "spongebob"}), http.StatusOK)
	ct.want(t, e, jsonPost(t, "/v1/auth/forgot_password", nil, map[string]any{"email": "nobody@bikinibottom.com"}), http.StatusOK)
	ct.wantProblem(t, e, formPost("/v1/auth/forgot_password", nil), http.StatusBadRequest, "validation_failed")
	code := ""
	for _, r := range e.outbox() {
		if r.Kind == account.NoticeResetCode {
			code = r.Notice.Code
		}
	}
	if code == "" {
		t.Fatalf("no reset code in the outbox: %v", e.kinds())
	}
	wrong := "000000"
	if code == wrong {
		wrong = "111111"
	}
	confirm := "/v1/auth/confirm_new_password"
	p = ct.wantProblem(t, e, jsonPost(t, confirm, nil, map[string]any{"username": "spongebob", "verification_code": wrong, "new_password": goodPassword}), http.StatusBadRequest, "invalid_code")
	if len(p.Errors) != 1 || p.Errors[0].Field != "verification_code" {
		t.Errorf("invalid_code errors = %+v", p.Errors)
	}
	ct.wantProblem(t, e, jsonPost(t, confirm, nil, map[string]any{"username": "spongebob", "verification_code": "12"}), http.StatusBadRequest, "validation_failed")
	ct.want(t, e, formPost(confirm, nil, "username", "spongebob", "verification_code", code, "new_password", goodPassword), http.StatusOK)
	ct.wantProblem(t, e, getReq("/v1/me", bearer(tok.Token)), http.StatusUnauthorized, "invalid_token") // the reset ended every session

	// NOWATCH: sign-out.
	sb := pairOf(t, ct.want(t, e, jsonPost(t, "/v1/auth/login", nil, map[string]any{"email": spongebobEmail, "password": goodPassword}), http.StatusOK))
	prof = profileResponse{}
	decode(t, ct.want(t, e, getReq("/v1/me", bearer(sb.Access)), http.StatusOK), &prof)
	if nullable(prof.Email) != spongebobEmail || prof.Username != nil || prof.TelegramLinked || nullable(prof.FirstName) != "Sponge Bob" {
		t.Errorf("profile = %+v, want spongebob's email with a null username", prof)
	}
	so := "/v1/auth/sign-out"
	ct.wantProblem(t, e, jsonPost(t, so, nil, map[string]any{"email": spongebobEmail}), http.StatusUnauthorized, "missing_token")
	ct.wantProblem(t, e, jsonPost(t, so, bearer("a.b.c"), map[string]any{"email": spongebobEmail}), http.StatusUnauthorized, "invalid_token")
	ct.wantProblem(t, e, jsonPost(t, so, bearer(sb.Access), map[string]any{"email": garryEmail}), http.StatusForbidden, "forbidden")
	ct.wantProblem(t, e, jsonPost(t, so, bearer(sb.Access), map[string]any{}), http.StatusBadRequest, "validation_failed")
	ct.want(t, e, jsonPost(t, so, bearer(sb.Access), map[string]any{"email": spongebobEmail}), http.StatusOK)
	ct.wantProblem(t, e, getReq("/v1/me", bearer(sb.Access)), http.StatusUnauthorized, "invalid_token")
	// A Watchdog account has no email: it signs out by its username.
	wd := e.login("spongebob", goodPassword)
	ct.wantProblem(t, e, formPost(so, bearer(wd), "username", "garry"), http.StatusForbidden, "forbidden")
	ct.want(t, e, formPost(so, bearer(wd), "username", "spongebob"), http.StatusOK)
	ct.wantProblem(t, e, getReq("/v1/me", bearer(wd)), http.StatusUnauthorized, "invalid_token")

	// Telegram link without a bot username.
	tok.Token = e.login("spongebob", goodPassword)
	ct.wantProblem(t, e, jsonPost(t, "/v1/telegram/link", bearer(tok.Token), map[string]any{"password": goodPassword}), http.StatusServiceUnavailable, "not_configured")
	ct.wantProblem(t, e, request{method: http.MethodPost, path: "/v1/telegram/link"}, http.StatusUnauthorized, "missing_token")

	// Operations.
	ct.want(t, e, getReq("/healthz", nil), http.StatusOK)
	ct.want(t, e, getReq("/readyz", nil), http.StatusOK)
	rec = ct.want(t, e, getReq("/openapi.yaml", nil), http.StatusOK)
	if got := rec.Header().Get("Content-Type"); got != "application/yaml" {
		t.Errorf("GET /openapi.yaml Content-Type = %q, want application/yaml", got)
	}
	if !bytes.Equal(rec.Body.Bytes(), openAPISpec) {
		t.Errorf("GET /openapi.yaml is not the embedded document")
	}
	rec = ct.want(t, e, getReq("/docs", nil), http.StatusOK) // docs_test.go covers the page
	if got := rec.Header().Get("Content-Type"); !strings.HasPrefix(got, "text/html") {
		t.Errorf("GET /docs Content-Type = %q, want text/html", got)
	}
	rec = ct.want(t, e, getReq("/metrics", nil), http.StatusOK)
	if !strings.Contains(rec.Body.String(), "tgauth_http_requests_total{") {
		t.Errorf("GET /metrics lacks tgauth_http_requests_total:\n%s", rec.Body)
	}
}

// contractBodies sends every route with a body one too large, one of
// another media type, one that does not parse and ones not UTF-8.
func contractBodies(t *testing.T, ct *contract) {
	e := newEnv(t)
	e.register("spongebob", goodPassword, spongebobChat)
	tok := e.login("spongebob", goodPassword)
	big := `{"email":"` + strings.Repeat("a", 1<<20) + `"}`
	for _, k := range ct.ops() {
		op := ct.operation(k)
		if op.RequestBody == nil {
			continue
		}
		var h map[string]string
		if requiresScheme(op, "bearer") {
			h = bearer(tok) // bearer routes check the token before the body
		}
		t.Run(k.String(), func(t *testing.T) {
			ct.wantProblem(t, e, request{method: k.method, path: k.path, body: big, contentType: "application/json", header: h}, http.StatusRequestEntityTooLarge, "body_too_large")
			ct.wantProblem(t, e, request{method: k.method, path: k.path, body: "<x/>", contentType: "application/xml", header: h}, http.StatusUnsupportedMediaType, "unsupported_media_type")
			ct.wantProblem(t, e, request{method: k.method, path: k.path, body: `{"email":`, contentType: "application/json", header: h}, http.StatusBadRequest, "malformed_body")
			ct.wantProblem(t, e, request{method: k.method, path: k.path, body: "email=%zz", contentType: "application/x-www-form-urlencoded", header: h}, http.StatusBadRequest, "malformed_body")
			ct.wantProblem(t, e, request{method: k.method, path: k.path, body: "email=b%FF@example.com", contentType: "application/x-www-form-urlencoded", header: h}, http.StatusBadRequest, "malformed_body")
			ct.wantProblem(t, e, request{method: k.method, path: k.path, body: "{\"email\":\"b\xffb@example.com\"}", contentType: "application/json", header: h}, http.StatusBadRequest, "malformed_body")
		})
	}
}

// contractRateLimits exhausts the limits of every limited route.
func contractRateLimits(t *testing.T, ct *contract) {
	e := newEnv(t, withLimits())
	limited := func(t *testing.T, r request, n int) {
		t.Helper()
		for range n {
			ct.call(t, e, r)
		}
		rec := ct.call(t, e, r)
		wantProblem(t, rec, http.StatusTooManyRequests, "rate_limited")
		if rec.Header().Get("Retry-After") == "" {
			t.Errorf("%s %s: 429 without Retry-After", r.method, r.path)
		}
	}
	// Logins share one per-account bucket of 10.
	nobody := "nobody@bikinibottom.com"
	limited(t, jsonPost(t, "/v1/auth/login", nil, map[string]any{"email": nobody, "password": goodPassword}), 10)
	limited(t, jsonPost(t, "/v2/auth/login", nil, map[string]any{"email": nobody, "password": goodPassword}), 0)
	limited(t, jsonPost(t, "/v2/auth/login/admin", nil, map[string]any{"email": nobody, "password": goodPassword}), 0)
	limited(t, formPost("/v1/login/", nil, "username", nobody, "password", goodPassword), 0)
	// Registrations: 3 per account.
	limited(t, formPost("/v1/register/", nil, "username", "plankton", "password", goodPassword, "account", "77"), 3)
	limited(t, jsonPost(t, "/v1/auth/register", nil, map[string]any{
		"email": "karen@chumbucket.com", "password": goodPassword, "first_name": "Karen",
		"toc_accepted_at": tocAcceptedAt, "privacy_policy_accepted_at": tocAcceptedAt,
	}), 3)
	// Codes: 3 sends, 5 confirmations per account.
	limited(t, jsonPost(t, "/v1/auth/forgot_password", nil, map[string]any{"email": spongebobEmail}), 3)
	limited(t, jsonPost(t, "/v1/auth/confirm_new_password", nil, map[string]any{"email": spongebobEmail, "verification_code": "123456", "new_password": goodPassword}), 5)
	// A signed-in user's password checks share one bucket of 10 per user.
	e.register("squidward", goodPassword, "88")
	tok := e.login("squidward", goodPassword)
	limited(t, formPost("/v1/change-password/", bearer(tok), "old_password", "Wrong-Pass1!", "new_password", "Clarinet-Solo9"), 10)
	limited(t, jsonPost(t, "/v1/telegram/link", bearer(tok), map[string]any{"password": goodPassword}), 0)
}

// contractClientTokens configures client tokens: every client API route
// (both dialects) refuses a request without one and takes one with it.
func contractClientTokens(t *testing.T, ct *contract) {
	e := newEnv(t, withHTTP(func(h *config.HTTP) { h.ClientTokens = []string{testClientToken} }))
	h := map[string]string{"x-auth-token": testClientToken}
	ct.want(t, e, formPost("/v1/register/", h, "username", "spongebob", "password", goodPassword, "account", spongebobChat), http.StatusCreated)
	var wd tokenResponse
	decode(t, ct.want(t, e, formPost("/v1/login/", h, "username", "spongebob", "password", goodPassword), http.StatusOK), &wd)
	tok := wd.Token
	for _, k := range ct.ops() {
		if !requiresScheme(ct.operation(k), "clientToken") {
			continue
		}
		t.Run(k.String(), func(t *testing.T) {
			for _, hdr := range []map[string]string{bearer(tok), withHeader(bearer(tok), "x-auth-token", "wrong")} {
				r := request{method: k.method, path: k.path, body: "{}", contentType: "application/json", header: hdr}
				ct.wantProblem(t, e, r, http.StatusUnauthorized, "invalid_client_token")
			}
		})
	}
	ct.want(t, e, getReq("/v1/me", withHeader(h, "Authorization", "Bearer "+tok)), http.StatusOK)
	ct.want(t, e, jsonPost(t, "/v1/auth/register", h, map[string]any{
		"email": spongebobEmail, "password": goodPassword, "first_name": "Sponge Bob",
		"toc_accepted_at": tocAcceptedAt, "privacy_policy_accepted_at": tocAcceptedAt,
	}), http.StatusCreated)
	pair := pairOf(t, ct.want(t, e, jsonPost(t, "/v2/auth/login", h, map[string]any{"email": spongebobEmail, "password": goodPassword}), http.StatusOK))
	ct.want(t, e, jsonPost(t, "/v1/auth/sign-out", withHeader(h, "Authorization", "Bearer "+pair.Access), map[string]any{"email": spongebobEmail}), http.StatusOK)
}

// requiresScheme reports whether any security requirement of op names
// scheme.
func requiresScheme(op *openapi3.Operation, scheme string) bool {
	if op.Security == nil {
		return false
	}
	for _, req := range *op.Security {
		if _, ok := req[scheme]; ok {
			return true
		}
	}
	return false
}

// contractSlashForms sends every operation in the trailing-slash form the
// spec does not write, where the router registers it, with no body and no
// credentials: it must answer as the spec's operation does.
func contractSlashForms(t *testing.T, ct *contract) {
	e := newEnv(t)
	registered := map[opKey]bool{}
	for _, r := range e.server.engine.Routes() {
		registered[routeKey(r)] = true
	}
	for _, k := range ct.ops() {
		alt := opKey{k.method, toggleSlash(k.path)}
		if !registered[alt] {
			continue
		}
		rec := ct.call(t, e, request{method: alt.method, path: alt.path})
		if rec.Code == http.StatusNotFound || rec.Code == http.StatusMethodNotAllowed {
			t.Errorf("%s = %d, want the answer of %s", alt, rec.Code, k)
		}
	}
}

// contractRoutes checks that the router serves exactly the spec's routes,
// each in both trailing-slash forms.
func contractRoutes(t *testing.T, ct *contract, e *env) {
	norm := func(p string) string {
		if p != "/" {
			p = strings.TrimSuffix(p, "/")
		}
		return p
	}
	served := map[opKey]bool{}
	registered := map[opKey]bool{}
	for _, r := range e.server.engine.Routes() {
		k := routeKey(r)
		registered[k] = true
		served[opKey{k.method, norm(k.path)}] = true
	}
	documented := map[opKey]bool{}
	for _, k := range ct.ops() {
		documented[opKey{k.method, norm(k.path)}] = true
		if !registered[k] {
			t.Errorf("the spec documents %s but the router does not serve that path", k)
		}
	}
	for k := range served {
		if !documented[k] {
			t.Errorf("the router serves %s but the spec does not document it", k)
		}
	}
	for k := range registered {
		if alt := (opKey{k.method, toggleSlash(k.path)}); !registered[alt] {
			t.Errorf("the router serves %s but not %s", k, alt)
		}
	}
}

// TestOpenAPIPatternsPortable checks that every schema pattern of
// openapi.yaml is an ECMA-262 regular expression that needs no flag:
// JSON Schema says patterns are ECMA-262, and validators and code
// generators compile them without the u flag, which refuses Unicode
// property escapes such as \p{Ll}. The listed constructs are the ones Go's
// regexp (RE2) takes but ECMA-262 does not, or takes only with u.
func TestOpenAPIPatternsPortable(t *testing.T) {
	doc, err := openapi3.NewLoader().LoadFromData(openAPISpec)
	if err != nil {
		t.Fatal(err)
	}
	b, err := json.Marshal(doc)
	if err != nil {
		t.Fatal(err)
	}
	var tree any
	if err := json.Unmarshal(b, &tree); err != nil {
		t.Fatal(err)
	}
	nonPortable := []string{`\p{`, `\P{`, `(?i`, `(?s`, `(?m`, `(?U`, `(?P<`, `\A`, `\z`, `\Q`, `[[:`}
	var patterns int
	var walk func(path string, v any)
	walk = func(path string, v any) {
		switch v := v.(type) {
		case map[string]any:
			for k, child := range v {
				if p, ok := child.(string); ok && k == "pattern" {
					patterns++
					for _, bad := range nonPortable {
						if strings.Contains(p, bad) {
							t.Errorf("%s: pattern %q uses %s, which ECMA-262 without the u flag refuses", path, p, bad)
						}
					}
					continue
				}
				walk(path+"/"+k, child)
			}
		case []any:
			for i, child := range v {
				walk(path+"/"+strconv.Itoa(i), child)
			}
		}
	}
	walk("#", tree)
	if patterns == 0 {
		t.Fatal("no pattern found: the walk is broken")
	}
}

// TestContractRefusesWrongAnswers checks that both validators of the
// contract catch a wrong answer: a test that passes because a validator
// checks nothing would be worse than none.
func TestContractRefusesWrongAnswers(t *testing.T) {
	ct := loadContract(t)
	answer := func(status int, contentType, body string, header map[string]string) *httptest.ResponseRecorder {
		rec := httptest.NewRecorder()
		rec.Header().Set("Content-Type", contentType)
		for k, v := range header {
			rec.Header().Set(k, v)
		}
		rec.WriteHeader(status)
		rec.WriteString(body)
		return rec
	}
	id := map[string]string{requestIDHeader: "abc"}
	problem401 := `{"type":"urn:tgauth:problem:missing_token","title":"Unauthorized","status":401,"detail":"no token","instance":"/v1/me","code":"missing_token","request_id":"abc"}`
	challenge := withHeader(id, "WWW-Authenticate", `Bearer realm="tgauth"`)
	tests := []struct {
		name, path string
		rec        *httptest.ResponseRecorder
		right      bool
	}{
		// The right answer passes both, or the wrong ones prove nothing.
		{"right problem", "/v1/me", answer(http.StatusUnauthorized, "application/problem+json", problem401, challenge), true},
		{"undocumented status", "/healthz", answer(http.StatusTeapot, "application/json", `{"status":"ok"}`, id), false},
		{"wrong body", "/healthz", answer(http.StatusOK, "application/json", `{"status":"fine"}`, id), false},
		{"extra member", "/healthz", answer(http.StatusOK, "application/json", `{"status":"ok","x":1}`, id), false},
		{"undocumented media type", "/healthz", answer(http.StatusOK, "text/csv", `status\nok`, id), false},
		{"missing header", "/healthz", answer(http.StatusOK, "application/json", `{"status":"ok"}`, nil), false},
		{"problem of another code", "/v1/me", answer(http.StatusUnauthorized, "application/problem+json", strings.Replace(problem401, `"code":"missing_token"`, `"code":"forbidden"`, 1), challenge), false},
		{"problem without request_id", "/v1/me", answer(http.StatusUnauthorized, "application/problem+json", strings.Replace(problem401, `,"request_id":"abc"`, "", 1), challenge), false},
		{"bad date-time", "/v1/me", answer(http.StatusOK, "application/json", `{"id":1,"role":"user","telegram_linked":false,"created_at":"yesterday"}`, id), false},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			req := httptest.NewRequest(http.MethodGet, tt.path, nil)
			route, params, err := ct.findRoute(req)
			if err != nil {
				t.Fatal(err)
			}
			in := &openapi3filter.RequestValidationInput{Request: req, PathParams: params, Route: route}
			kinErr := kinResponseErr(t.Context(), in, tt.rec)
			pbErr := ct.pbResponseErr(req, route.Path, tt.rec)
			wantErr := !tt.right
			if (kinErr != nil) != wantErr {
				t.Errorf("kin-openapi: err = %v, want an error: %v", kinErr, wantErr)
			}
			if (pbErr != nil) != wantErr {
				t.Errorf("libopenapi-validator: err = %v, want an error: %v", pbErr, wantErr)
			}
		})
	}
}

// nullable is *p, or "<null>".
func nullable(p *string) string {
	if p == nil {
		return "<null>"
	}
	return *p
}
