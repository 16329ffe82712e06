//go:build !nocontract

package httpapi

import (
	"encoding/json"
	"fmt"
	"maps"
	"math/rand/v2"
	"net/http"
	"net/http/httptest"
	"net/url"
	"slices"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/getkin/kin-openapi/openapi3"

	"tgauth/internal/account"
)

// propertySeed seeds every random choice of TestOpenAPIProperties, so a
// failure reproduces run after run.
const propertySeed = 11

// propertyMutants is how many randomly combined mutations each operation
// gets per media type, beside the enumerated ones.
const propertyMutants = 8

// The cases TestOpenAPIProperties leaves out, each with the reason.
var propertyExclusions = []string{
	"x-auth-token variants: they need a server configured with client tokens; contractClientTokens sends them to every NOWATCH route",
	"bodies over http.max_body_bytes (413) and other media types (415): contractBodies sends them to every route with a body",
	"multipart/form-data: the server reads it, but no operation documents it",
	"429, 500 and 503: rate limits are off here, and a broken or slow store is the business of the store tests",
	"a JSON number where a schema says string: the server reads any number as its digits, as the spec's info says; the schemas say what clients should send",
	"the spec's request side for broken bodies the server takes: a field it ignores (username beside email) or reads leniently may break its schema; the valid bodies and every seed example are checked strictly",
}

// noSuccess lists the operations whose valid generated request cannot
// succeed, with the reason; every other operation must answer its valid
// request with a 2xx.
var noSuccess = map[string]string{
	"confirmNewPassword": "the code is sent to a Telegram chat; a generated one is wrong (400 invalid_code), and TestOpenAPI spends a real one",
}

// TestOpenAPIProperties walks every operation of openapi.yaml and sends
// the real router requests generated from the operation's request schema:
// a valid body (examples, or the least the schema takes, realistic values
// for formats), and broken ones (invalid JSON, wrong types, missing
// required fields, nulls, overlong strings, invalid UTF-8, random
// combinations), as JSON and, where documented, as a form; with and
// without a bearer token where the operation needs one. Whatever it sends,
// the answer is never a 5xx, its status is documented for the operation
// and it matches the spec, under both of the contract's validators.
func TestOpenAPIProperties(t *testing.T) {
	t.Logf("seed %d; left out: %s", propertySeed, strings.Join(propertyExclusions, "; "))
	ct := loadContract(t)
	rng := rand.New(rand.NewPCG(propertySeed, propertySeed))
	for _, k := range ct.ops() {
		op := ct.operation(k)
		// Each operation gets its own generator, drawn in a fixed order,
		// so that adding a case to one does not change another's.
		g := &generator{rng: rand.New(rand.NewPCG(rng.Uint64(), rng.Uint64())), op: op.OperationID}
		t.Run(k.String(), func(t *testing.T) {
			propertyOperation(t, ct, k, op, g)
		})
	}
}

// propertyCase is one generated request body.
type propertyCase struct {
	name        string
	body        string
	contentType string
	valid       bool
}

func propertyOperation(t *testing.T, ct *contract, k opKey, op *openapi3.Operation, g *generator) {
	e := newEnv(t, withService(account.Options{BotUsername: "tgauth_bot"}))
	g.e = e
	needsBearer := requiresScheme(op, "bearer") && !allowsAnonymous(op)

	var cases []propertyCase
	if op.RequestBody == nil {
		cases = append(cases,
			propertyCase{name: "no body", valid: true},
			propertyCase{name: "an unread JSON body", body: `{"email":1}`, contentType: "application/json"})
	} else {
		content := op.RequestBody.Value.Content
		if mt := content.Get("application/json"); mt != nil {
			cases = append(cases, g.jsonCases(mt.Schema.Value)...)
		}
		if mt := content.Get("application/x-www-form-urlencoded"); mt != nil {
			cases = append(cases, g.formCases(mt.Schema.Value)...)
		}
		if len(cases) == 0 {
			t.Fatalf("%s documents neither JSON nor a form", k)
		}
	}

	auths := []string{"token"}
	if needsBearer {
		auths = append(auths, "none")
	}
	for _, c := range cases {
		for _, auth := range auths {
			rec := g.send(t, ct, k, c, auth)
			if c.valid && auth == "token" && rec.Code/100 != 2 {
				if reason, ok := noSuccess[op.OperationID]; ok {
					t.Logf("%s: valid %s answered %d, as listed: %s", k, c.name, rec.Code, reason)
				} else {
					t.Errorf("%s: valid %s %q answered %d %s, want a 2xx", k, c.name, c.body, rec.Code, rec.Body)
				}
			}
			if auth == "none" && rec.Code != http.StatusUnauthorized {
				t.Errorf("%s: %s without a token answered %d, want 401", k, c.name, rec.Code)
			}
		}
	}
	if needsBearer {
		valid := cases[0]
		for _, h := range []string{"Bearer not-a-token", "Bearer a.b.c", "Basic c3BvbmdlYm9iOnBhc3M=", "Bearer", "Bearer  "} {
			if rec := g.send(t, ct, k, valid, h); rec.Code != http.StatusUnauthorized {
				t.Errorf("%s: Authorization %q answered %d, want 401", k, h, rec.Code)
			}
		}
		// The scheme in lower case: either answer is fine, if documented.
		g.send(t, ct, k, valid, "bearer "+g.principal(t).access)
		// A refresh token is not an access token.
		if rec := g.send(t, ct, k, valid, "Bearer "+g.principal(t).refresh); rec.Code != http.StatusUnauthorized {
			t.Errorf("%s: a refresh token as bearer answered %d, want 401", k, rec.Code)
		}
	}
}

// allowsAnonymous reports whether one of op's security requirements is
// empty, so that a request without credentials may pass.
func allowsAnonymous(op *openapi3.Operation) bool {
	if op.Security == nil {
		return true
	}
	return len(*op.Security) == 0 || slices.ContainsFunc(*op.Security, func(r openapi3.SecurityRequirement) bool { return len(r) == 0 })
}

// principal is an account the generated requests act as: it has an email
// and a username, and the tokens of one session.
type principal struct {
	email, username, password string
	access, refresh           string
}

// generator makes the requests of one operation from one random source.
type generator struct {
	rng *rand.Rand
	op  string
	e   *env
	n   int        // numbers the accounts it makes
	p   *principal // nil: make a fresh one on next use
}

// principal returns the current principal, making one when needed: an
// admin for loginAdmin, a user otherwise.
func (g *generator) principal(t *testing.T) *principal {
	t.Helper()
	if g.p != nil {
		return g.p
	}
	g.n++
	p := &principal{
		email:    fmt.Sprintf("%s.%d@bikinibottom.com", g.word(6), g.n),
		username: fmt.Sprintf("%s%d", g.word(5), g.n),
		password: g.password(),
	}
	admin := g.op == "loginAdmin"
	if _, err := g.e.server.accounts.CreateUser(t.Context(), account.CreateUserParams{Email: p.email, Username: p.username, Password: p.password, Admin: admin}); err != nil {
		t.Fatalf("create %s: %v", p.email, err)
	}
	path := "/v2/auth/login"
	if admin {
		path = "/v2/auth/login/admin"
	}
	body := url.Values{"email": {p.email}, "password": {p.password}}.Encode()
	rec := g.e.do(request{method: http.MethodPost, path: path, body: body, contentType: "application/x-www-form-urlencoded"})
	if rec.Code != http.StatusOK {
		t.Fatalf("login %s: %d %s", p.email, rec.Code, rec.Body)
	}
	pair := pairOf(t, rec)
	p.access, p.refresh = pair.Access, pair.Refresh
	g.p = p
	return p
}

// send sends c to k, as auth says: "token" (the principal's bearer token,
// when the operation has security), "none", or an Authorization header.
// The principal's values stand in for the body's placeholders. An answer
// that may have changed the principal (a success, a refusal that counts
// toward a lockout, a spent refresh token) retires it.
func (g *generator) send(t *testing.T, ct *contract, k opKey, c propertyCase, auth string) *httptest.ResponseRecorder {
	t.Helper()
	op := ct.operation(k)
	body := c.body
	p := &principal{}
	if strings.Contains(body, "@@") || strings.Contains(body, "%40%40") || requiresScheme(op, "bearer") {
		p = g.principal(t)
	}
	if c.contentType == "application/x-www-form-urlencoded" {
		body = strings.NewReplacer(
			url.QueryEscape(placeEmail), url.QueryEscape(p.email), url.QueryEscape(placeUsername), url.QueryEscape(p.username),
			url.QueryEscape(placePassword), url.QueryEscape(p.password), url.QueryEscape(placeRefresh), url.QueryEscape(p.refresh),
		).Replace(body)
	}
	g.n++
	chat := strconv.Itoa(1000 + g.n)
	email := fmt.Sprintf("%s.%d@bikinibottom.com", g.word(5), g.n)
	username := fmt.Sprintf("%s%d", g.word(5), g.n)
	body = strings.NewReplacer(`"`+placeNewChat+`"`, chat, placeNewChat, chat, url.QueryEscape(placeNewChat), chat,
		placeNewEmail, email, url.QueryEscape(placeNewEmail), url.QueryEscape(email),
		placeNewUsername, username, url.QueryEscape(placeNewUsername), username).Replace(body)
	// In a JSON body the values go inside strings: a password may hold a
	// quote or a backslash.
	in := func(v string) string { return v }
	if strings.HasPrefix(strings.TrimSpace(body), "{") {
		in = func(v string) string {
			b, _ := json.Marshal(v)
			return string(b[1 : len(b)-1])
		}
	}
	body = strings.NewReplacer(placeEmail, in(p.email), placeUsername, in(p.username), placePassword, in(p.password), placeRefresh, in(p.refresh)).Replace(body)
	var h map[string]string
	switch {
	case auth == "token":
		if requiresScheme(op, "bearer") {
			h = bearer(p.access)
		}
	case auth == "none":
	default:
		h = map[string]string{"Authorization": auth}
	}
	r := request{method: k.method, path: k.path, body: body, contentType: c.contentType, header: h}
	rec := ct.exchange(t, g.e, r, c.valid)
	if rec.Code >= 500 {
		t.Errorf("%s %s (%s, auth %s) = %d %s; body %q", k.method, k.path, c.name, auth, rec.Code, rec.Body, body)
	}
	if rec.Code/100 == 2 || rec.Code == http.StatusUnauthorized || rec.Code == http.StatusForbidden || (p.refresh != "" && strings.Contains(body, p.refresh)) {
		g.p = nil
	}
	return rec
}

// Placeholders the generator writes for values only the principal knows;
// send replaces them.
const (
	placeEmail    = "@@email@@"
	placeUsername = "@@username@@"
	placePassword = "@@password@@"
	placeRefresh  = "@@refresh@@"
	placeBadUTF8  = "@@bad-utf8@@"
	placeEscapes  = "@@escapes@@"
	// A new account's email, username and chat, fresh for each request
	// so that a register is not refused as a duplicate.
	placeNewEmail    = "@@new-email@@"
	placeNewUsername = "@@new-username@@"
	placeNewChat     = "@@new-chat@@"
)

// principalFields are the request fields that name or prove the
// principal: in a valid body they carry its values.
var principalFields = map[string]string{
	"email":        placeEmail,
	"username":     placeUsername,
	"password":     placePassword,
	"old_password": placePassword,
	"refresh":      placeRefresh,
}

// actsAsPrincipal reports whether the operation's body names an existing
// account (a login, a reset, a sign-out) rather than a new one.
func (g *generator) actsAsPrincipal() bool {
	switch g.op {
	case "register", "watchdogRegister":
		return false
	}
	return true
}

// word returns n random lowercase ASCII letters.
func (g *generator) word(n int) string {
	b := make([]byte, n)
	for i := range b {
		b[i] = byte('a' + g.rng.IntN(26))
	}
	return string(b)
}

// password returns a random password under the policy.
func (g *generator) password() string {
	specials := `^$*.[]{}()?-"!@#%&/,><':;|_~+`
	return fmt.Sprintf("%c%s%d%c", 'A'+g.rng.IntN(26), g.word(6), 10+g.rng.IntN(90), specials[g.rng.IntN(len(specials))])
}

// object returns the fields of a valid body of the object schema s: its
// required fields, those of one anyOf branch, and now and then an
// optional one.
func (g *generator) object(s *openapi3.Schema) map[string]any {
	want := map[string]bool{}
	for _, name := range s.Required {
		want[name] = true
	}
	if len(s.AnyOf) > 0 {
		branch := s.AnyOf[g.rng.IntN(len(s.AnyOf))].Value
		if g.actsAsPrincipal() {
			branch = s.AnyOf[0].Value // email: the principal's
		}
		for _, name := range branch.Required {
			want[name] = true
		}
	}
	for name := range s.Properties {
		if !want[name] && g.rng.IntN(3) == 0 && !(len(s.AnyOf) > 0 && (name == "email" || name == "username")) {
			want[name] = true
		}
	}
	obj := map[string]any{}
	for _, name := range sortedKeys(s.Properties) {
		if want[name] {
			obj[name] = g.value(name, s.Properties[name].Value)
		}
	}
	return obj
}

func sortedKeys[V any](m map[string]V) []string {
	return slices.Sorted(maps.Keys(m))
}

// value returns a valid value of the field name, of schema s.
func (g *generator) value(name string, s *openapi3.Schema) any {
	if place, ok := principalFields[name]; ok && g.actsAsPrincipal() {
		return place
	}
	if s.Type.Includes("integer") && !g.actsAsPrincipal() {
		return placeNewChat
	}
	if s.Type.Includes("integer") {
		lo := int64(1)
		if s.Min != nil {
			lo = int64(*s.Min)
		}
		return lo + g.rng.Int64N(1_000_000_000)
	}
	switch {
	case s.Format == "email" && !g.actsAsPrincipal():
		return placeNewEmail
	case s.Pattern == `^[A-Za-z0-9_.-]{3,64}$` && !g.actsAsPrincipal():
		return placeNewUsername
	case s.Format == "email":
		return fmt.Sprintf("%s.%s%d@bikinibottom.com", g.word(5), g.word(4), g.rng.IntN(1000))
	case s.Format == "date-time":
		return time.Date(2020+g.rng.IntN(5), time.Month(1+g.rng.IntN(12)), 1+g.rng.IntN(28), g.rng.IntN(24), g.rng.IntN(60), 0, 0, time.UTC).Format(time.RFC3339)
	case s.Pattern == `^[0-9]{6}$`:
		return fmt.Sprintf("%06d", g.rng.IntN(1_000_000))
	case s.Pattern == `^[A-Za-z0-9_.-]{3,64}$`:
		return g.word(4) + strconv.Itoa(g.rng.IntN(1_000_000))
	case len(s.AllOf) > 0: // NewPassword: its patterns are in allOf
		return g.password()
	case len(s.Examples) > 0:
		return s.Examples[0]
	}
	n := max(int(s.MinLength), 1+g.rng.IntN(12))
	if s.MaxLength != nil {
		n = min(n, int(*s.MaxLength))
	}
	return g.word(n)
}

// wrongTypes are JSON values no request field takes. Numbers are not
// among them: the server reads a number as its digits, in any field.
var wrongTypes = []any{true, false, map[string]any{"a": 1}, []any{1, "x"}, []any{}, map[string]any{}}

// wrongNumbers are numbers for the fields that take integers.
var wrongNumbers = []any{-1, 0, 1.5, 3.5e300, -9223372036854775808, json.Number("18446744073709551616")}

// wrongType returns a JSON value of a type field schema s does not take.
func (g *generator) wrongType(s *openapi3.Schema) any {
	if s.Type.Includes("integer") && g.rng.IntN(2) == 0 {
		return wrongNumbers[g.rng.IntN(len(wrongNumbers))]
	}
	return wrongTypes[g.rng.IntN(len(wrongTypes))]
}

// overlong returns a string one character past s's maxLength (or 300
// characters), of a random letter; now and then one of 100,000.
func (g *generator) overlong(s *openapi3.Schema) string {
	n := 300
	if s.MaxLength != nil {
		n = int(*s.MaxLength) + 1
	}
	if g.rng.IntN(4) == 0 {
		n = 100_000
	}
	return strings.Repeat(string(rune('a'+g.rng.IntN(26))), n)
}

func mustJSON(v any) string {
	b, err := json.Marshal(v)
	if err != nil {
		panic(err)
	}
	return string(b)
}

// jsonCases returns the valid JSON body of schema s and its broken kin.
func (g *generator) jsonCases(s *openapi3.Schema) []propertyCase {
	const ct = "application/json"
	valid := g.object(s)
	cases := []propertyCase{{name: "valid JSON", body: mustJSON(valid), contentType: ct, valid: true}}
	add := func(name string, obj map[string]any) {
		body := mustJSON(obj)
		body = strings.ReplaceAll(body, placeBadUTF8, "ab\xff\xfecd")
		body = strings.ReplaceAll(body, placeEscapes, `x\ud800\u0000y\udfff`)
		cases = append(cases, propertyCase{name: name, body: body, contentType: ct})
	}
	with := func(name string, v any) map[string]any {
		obj := maps.Clone(valid)
		obj[name] = v
		return obj
	}
	add("extra member", with("zz_"+g.word(4), g.word(8)))
	for _, name := range sortedKeys(s.Properties) {
		ps := s.Properties[name].Value
		if _, ok := valid[name]; ok {
			obj := maps.Clone(valid)
			delete(obj, name)
			add("JSON without "+name, obj)
		}
		add("JSON "+name+" of a wrong type", with(name, g.wrongType(ps)))
		add("JSON "+name+" null", with(name, nil))
		add("JSON "+name+" overlong", with(name, g.overlong(ps)))
		add("JSON "+name+" empty", with(name, ""))
		add("JSON "+name+" of invalid UTF-8", with(name, placeBadUTF8))
		add("JSON "+name+" with a lone surrogate and NUL", with(name, placeEscapes))
	}
	full := mustJSON(valid)
	for _, raw := range []string{
		"", "{", "}", "[]", `"text"`, "null", "42", "{}", `{"email":`, `{"email":"x",}`,
		`{"a":1}{"b":2}`, "\xff\xfe{}", `{"email":"a\u00"}`, full[:g.rng.IntN(len(full))],
		strings.Repeat("[", 10_000),
	} {
		cases = append(cases, propertyCase{name: fmt.Sprintf("raw JSON %.20q", raw), body: raw, contentType: ct})
	}
	for i := range propertyMutants {
		add(fmt.Sprintf("JSON mutant %d", i), g.mutant(valid, s,
			func(obj map[string]any, name string) { delete(obj, name) },
			func(obj map[string]any, name string) { obj[name] = g.wrongType(s.Properties[name].Value) },
			func(obj map[string]any, name string) { obj[name] = g.overlong(s.Properties[name].Value) },
			func(obj map[string]any, name string) { obj[name] = placeBadUTF8 },
			func(obj map[string]any, name string) { obj[name] = g.value(name, s.Properties[name].Value) },
		))
	}
	return cases
}

// mutant returns a copy of valid with one to three of schema s's
// properties changed, each by one of mutations drawn at random.
func (g *generator) mutant(valid map[string]any, s *openapi3.Schema, mutations ...func(obj map[string]any, name string)) map[string]any {
	obj := maps.Clone(valid)
	names := sortedKeys(s.Properties)
	for range 1 + g.rng.IntN(3) {
		name := names[g.rng.IntN(len(names))]
		mutations[g.rng.IntN(len(mutations))](obj, name)
	}
	return obj
}

// formCases returns the valid form body of schema s and its broken kin.
func (g *generator) formCases(s *openapi3.Schema) []propertyCase {
	const ct = "application/x-www-form-urlencoded"
	valid := g.object(s)
	enc := func(obj map[string]any) string {
		vals := url.Values{}
		for k, v := range obj {
			vals.Set(k, fmt.Sprint(v))
		}
		return strings.ReplaceAll(vals.Encode(), url.QueryEscape(placeBadUTF8), "ab%FF%FEcd")
	}
	cases := []propertyCase{{name: "valid form", body: enc(valid), contentType: ct, valid: true}}
	add := func(name, body string) {
		cases = append(cases, propertyCase{name: name, body: body, contentType: ct})
	}
	with := func(name string, v any) map[string]any {
		obj := maps.Clone(valid)
		obj[name] = v
		return obj
	}
	for _, name := range sortedKeys(s.Properties) {
		ps := s.Properties[name].Value
		if _, ok := valid[name]; ok {
			obj := maps.Clone(valid)
			delete(obj, name)
			add("form without "+name, enc(obj))
			add("form with "+name+" twice", enc(valid)+"&"+url.QueryEscape(name)+"="+g.word(3))
		}
		add("form "+name+" overlong", enc(with(name, g.overlong(ps))))
		add("form "+name+" empty", enc(with(name, "")))
		add("form "+name+" of invalid UTF-8", enc(with(name, placeBadUTF8)))
		if ps.Type.Includes("integer") {
			for _, v := range []string{"abc", "-5", "0", "1e3", "99999999999999999999", " 7"} {
				add("form "+name+" "+strconv.Quote(v), enc(with(name, v)))
			}
		}
	}
	for _, raw := range []string{"", "&&&", "=", "email", "%zz", "email=%", "email=%E0%A4%A", "\xff=\xfe", strings.Repeat("a=1&", 10_000)} {
		add(fmt.Sprintf("raw form %.20q", raw), raw)
	}
	for i := range propertyMutants {
		add(fmt.Sprintf("form mutant %d", i), enc(g.mutant(valid, s,
			func(obj map[string]any, name string) { delete(obj, name) },
			func(obj map[string]any, name string) { obj[name] = g.overlong(s.Properties[name].Value) },
			func(obj map[string]any, name string) { obj[name] = placeBadUTF8 },
			func(obj map[string]any, name string) { obj[name] = g.word(g.rng.IntN(20)) },
		)))
	}
	return cases
}
