// Package telegramtest is a fake Telegram Bot API for bot tests: it routes
// /bot<token>/<method>, records what the bot sends, serves updates injected
// by the test, enforces Telegram's flood limits and fails scripted calls, so
// that no test ever reaches the network.
//
// A bot under test talks to it through the library's endpoint format:
//
//	srv := telegramtest.New(t, token)
//	bot, err := tgbotapi.NewBotAPIWithAPIEndpoint(token, srv.URL+"/bot%s/%s")
//
// Tests inside a testing/synctest bubble must not use a socket: start the
// server with WithoutListener and give the bot srv.Client(), whose transport
// calls the handler in-process, so long polls and hung calls wait on the
// bubble's fake clock:
//
//	synctest.Test(t, func(t *testing.T) {
//		srv := telegramtest.New(t, token, telegramtest.WithoutListener())
//		c := srv.Client()
//		c.Timeout = 40 * time.Second
//		bot, err := tgbotapi.NewBotAPIWithClient(token, srv.URL+"/bot%s/%s", c)
//		...
//	})
//
// The server never logs; recorded texts (reset codes included) are kept as
// sent for the test to inspect.
package telegramtest

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"log"
	"mime"
	"net/http"
	"net/http/httptest"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"
)

// DefaultUsername is the bot's username unless WithUsername sets another.
const DefaultUsername = "tgauth_test_bot"

// noListenerURL is Server.URL under WithoutListener; .invalid never resolves,
// so a client that bypasses Client() fails instead of reaching the network.
const noListenerURL = "http://telegramtest.invalid"

// maxBody bounds a request body; Telegram's own limit for uploads is larger,
// but no method this fake serves takes files.
const maxBody = 10 << 20

// errServerClosed ends calls still in flight when the test's cleanup runs.
var errServerClosed = errors.New("telegramtest: server closed")

// Server is a fake Bot API for one bot token.
type Server struct {
	// URL is the base to pass as telegram.api_url: the library's endpoint is
	// URL+"/bot%s/%s".
	URL string

	report   func(msg string) // a call no bot should make; New fails the test
	token    string
	bot      wireUser
	now      func() time.Time
	limits   bool
	listener bool
	handler  http.Handler
	done     chan struct{} // closed by cleanup: ends long polls and hangs
	// sendLatency delays each sendMessage answer after the message is
	// accepted.
	sendLatency time.Duration

	mu      sync.Mutex
	changed chan struct{} // closed and replaced on every recorded change
	closed  bool
	calls   map[string]int
	faults  map[string][]Fault
	mixes   map[string]*faultMix
	served  map[string]int // calls answered with a fault

	blocked   map[int64]bool
	forgotten map[int64]bool

	nextUpdateID int
	updates      []wireUpdate // unconfirmed, ascending update_id
	allowed      []string     // allowed_updates of the last call that set it
	polling      bool

	nextMessageID map[int64]int // per chat, shared by user and bot messages
	messages      map[messageKey]*botMessage
	typed         map[int64][]typedMessage // per chat: what the user sent

	sent       []Sent
	waited     map[int64]int // per chat: messages already returned by WaitForMessage
	lastSend   map[int64]time.Time
	window     []time.Time // accepted sendMessage times in the last second
	violations int

	nextCallback int
	callbacks    map[string]bool // id → still unanswered
	callbackChat map[string]int64
	answers      []CallbackAnswer
	edits        []Edit
}

// Option configures a Server.
type Option func(*Server)

// WithUsername sets the username getMe reports.
func WithUsername(name string) Option {
	return func(s *Server) { s.bot.UserName = name }
}

// WithClock sets the clock for flood limits and for the times recorded and
// reported (Sent.At, message dates). Long-poll timeouts and Hang use real
// timers, which a synctest bubble fakes.
func WithClock(now func() time.Time) Option {
	return func(s *Server) { s.now = now }
}

// WithoutRateLimits turns off the flood limits on sendMessage.
func WithoutRateLimits() Option {
	return func(s *Server) { s.limits = false }
}

// WithSendLatency makes every sendMessage answer d after the fake has
// accepted (and recorded) the message, as on a slow way back from
// Telegram: a bot that stops waiting, or dies, within d has sent a message
// it never heard about. The wait ends early when the request's context
// ends or the test is cleaned up.
func WithSendLatency(d time.Duration) Option {
	return func(s *Server) { s.sendLatency = d }
}

// WithoutListener starts no httptest.Server: reach the fake through Client()
// or Handler(). Needed inside a synctest bubble, which must not use sockets.
// URL is then a placeholder that never resolves.
func WithoutListener() Option {
	return func(s *Server) { s.listener = false }
}

// New starts a fake Bot API for token and stops it in t.Cleanup. Calls to
// methods it does not serve fail with 404 and report t.Errorf.
func New(t testing.TB, token string, opts ...Option) *Server {
	s := NewServer(token, opts...)
	s.report = func(msg string) { t.Errorf("telegramtest: %s", msg) }
	var hs *httptest.Server
	if s.listener {
		hs = httptest.NewUnstartedServer(s.handler)
		hs.Config.ErrorLog = log.New(io.Discard, "", 0)
		hs.Start()
		s.URL = hs.URL
	}
	t.Cleanup(func() {
		s.Close()
		if hs != nil {
			hs.Close()
		}
	})
	return s
}

// NewServer makes a fake Bot API for token outside a test, for a program
// that serves Handler itself (the playground): it opens no listener
// whatever the options, reports nothing, and runs until Close.
func NewServer(token string, opts ...Option) *Server {
	s := &Server{
		URL:    noListenerURL,
		report: func(string) {},
		token:  token,
		bot: wireUser{
			ID:        botID(token),
			IsBot:     true,
			FirstName: "tgauth test bot",
			UserName:  DefaultUsername,
		},
		now:           time.Now,
		limits:        true,
		listener:      true,
		done:          make(chan struct{}),
		changed:       make(chan struct{}),
		calls:         map[string]int{},
		faults:        map[string][]Fault{},
		mixes:         map[string]*faultMix{},
		served:        map[string]int{},
		blocked:       map[int64]bool{},
		forgotten:     map[int64]bool{},
		nextUpdateID:  1,
		nextMessageID: map[int64]int{},
		messages:      map[messageKey]*botMessage{},
		typed:         map[int64][]typedMessage{},
		waited:        map[int64]int{},
		lastSend:      map[int64]time.Time{},
		callbacks:     map[string]bool{},
		callbackChat:  map[string]int64{},
	}
	for _, o := range opts {
		o(s)
	}
	s.handler = http.HandlerFunc(s.serveHTTP)
	return s
}

// Close ends long polls and hung calls; later calls fail. New's cleanup
// calls it.
func (s *Server) Close() {
	s.mu.Lock()
	defer s.mu.Unlock()
	if !s.closed {
		s.closed = true
		close(s.done)
	}
}

// botID is the numeric prefix of a "123456:secret" token, as Telegram's.
func botID(token string) int64 {
	prefix, _, _ := strings.Cut(token, ":")
	id, err := strconv.ParseInt(prefix, 10, 64)
	if err != nil || id <= 0 {
		return 1
	}
	return id
}

// Handler returns the fake's HTTP handler, for serving it without a socket.
func (s *Server) Handler() http.Handler { return s.handler }

// Client returns an http.Client whose transport calls Handler in-process,
// whatever the request's host: no socket is used, so it works inside a
// synctest bubble. The request's context (Client.Timeout included) bounds
// long polls and hung calls. Set Timeout on the returned client as the bot
// would on its own.
func (s *Server) Client() *http.Client {
	return &http.Client{Transport: inProcess{s}}
}

// inProcess is an http.RoundTripper that serves requests with the handler.
type inProcess struct{ s *Server }

func (rt inProcess) RoundTrip(req *http.Request) (*http.Response, error) {
	if req.Body != nil {
		// Also unblocks a multipart writer goroutine the handler did not drain.
		defer req.Body.Close()
	}
	if rt.s.isClosed() {
		return nil, errServerClosed
	}
	in := req.Clone(req.Context())
	in.RequestURI = req.URL.RequestURI()
	in.RemoteAddr = "192.0.2.1:1234"
	if in.Body == nil {
		in.Body = http.NoBody
	}
	rec := httptest.NewRecorder()
	rt.s.handler.ServeHTTP(rec, in)
	if err := req.Context().Err(); err != nil {
		return nil, err
	}
	if rt.s.isClosed() {
		return nil, errServerClosed
	}
	resp := rec.Result()
	resp.Request = req
	return resp, nil
}

func (s *Server) isClosed() bool {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.closed
}

// methodFunc serves one Bot API method. A *apiError answers as Telegram
// does; a context error or errServerClosed answers nothing.
type methodFunc func(s *Server, ctx context.Context, p params) (any, error)

var methods = map[string]methodFunc{
	"getMe":                  (*Server).getMe,
	"getUpdates":             (*Server).getUpdates,
	"sendMessage":            (*Server).sendMessage,
	"answerCallbackQuery":    (*Server).answerCallbackQuery,
	"editMessageText":        (*Server).editMessageText,
	"editMessageReplyMarkup": (*Server).editMessageReplyMarkup,
	"setMyCommands":          (*Server).setMyCommands,
	"deleteWebhook":          (*Server).deleteWebhook,
}

// canonical maps lower-cased method names to ours: Telegram ignores case.
var canonical = func() map[string]string {
	m := map[string]string{}
	for name := range methods {
		m[strings.ToLower(name)] = name
	}
	return m
}()

func methodName(name string) string {
	if c, ok := canonical[strings.ToLower(name)]; ok {
		return c
	}
	return name
}

func (s *Server) serveHTTP(w http.ResponseWriter, r *http.Request) {
	rest, ok := strings.CutPrefix(r.URL.Path, "/bot")
	token, method, ok2 := strings.Cut(rest, "/")
	if !ok || !ok2 || method == "" || strings.Contains(method, "/") {
		// The path is not logged: it holds the token.
		s.unexpected("request to a path that is not /bot<token>/<method>")
		writeJSON(w, http.StatusNotFound, errorBody(&apiError{code: 404, description: "Not Found"}))
		return
	}
	if token != s.token {
		writeJSON(w, http.StatusUnauthorized, errorBody(&apiError{code: 401, description: "Unauthorized"}))
		return
	}
	method = methodName(method)
	fn, known := methods[method]

	s.mu.Lock()
	s.calls[method]++
	var fault *Fault
	if known {
		if fault = s.nextFault(method); fault != nil {
			s.served[method]++
		}
	}
	s.mu.Unlock()

	if !known {
		s.unexpected(fmt.Sprintf("call to unexpected Bot API method %q", method))
		writeJSON(w, http.StatusNotFound, errorBody(&apiError{code: 404, description: "Not Found"}))
		return
	}
	if fault != nil {
		s.serveFault(w, r, fault)
		return
	}
	p, err := readParams(w, r)
	if err != nil {
		writeJSON(w, http.StatusBadRequest, errorBody(badRequest(err.Error())))
		return
	}
	result, err := fn(s, r.Context(), p)
	var ae *apiError
	switch {
	case err == nil:
		if method == "sendMessage" && !s.wait(r.Context(), s.sendLatency) {
			return
		}
		writeJSON(w, http.StatusOK, okBody{OK: true, Result: result})
	case errors.As(err, &ae):
		writeJSON(w, ae.code, errorBody(ae))
	default:
		// The client is gone or the server is closing: nobody reads an answer.
	}
}

// wait waits d and reports true, or false if ctx ends or the server
// closes first.
func (s *Server) wait(ctx context.Context, d time.Duration) bool {
	if d <= 0 {
		return true
	}
	t := time.NewTimer(d)
	defer t.Stop()
	select {
	case <-t.C:
		return true
	case <-ctx.Done():
	case <-s.done:
	}
	return false
}

// unexpected fails the test, unless it has already been cleaned up.
func (s *Server) unexpected(msg string) {
	s.mu.Lock()
	defer s.mu.Unlock()
	if !s.closed {
		s.report(msg)
	}
}

// params are a call's parameters as strings; JSON bodies keep non-string
// values (numbers, objects such as reply_markup) as their JSON text.
type params map[string]string

func readParams(w http.ResponseWriter, r *http.Request) (params, error) {
	r.Body = http.MaxBytesReader(w, r.Body, maxBody)
	p := params{}
	ct, _, _ := mime.ParseMediaType(r.Header.Get("Content-Type"))
	switch ct {
	case "application/json":
		var m map[string]json.RawMessage
		if err := json.NewDecoder(r.Body).Decode(&m); err != nil && !errors.Is(err, io.EOF) {
			return nil, fmt.Errorf("can't parse JSON object: %v", err)
		}
		for k, raw := range m {
			var str string
			switch {
			case json.Unmarshal(raw, &str) == nil:
				p[k] = str
			case string(raw) == "null":
			default:
				p[k] = string(raw)
			}
		}
		for k, vs := range r.URL.Query() {
			if _, ok := p[k]; !ok && len(vs) > 0 {
				p[k] = vs[0]
			}
		}
		return p, nil
	case "multipart/form-data":
		if err := r.ParseMultipartForm(maxBody); err != nil { // #nosec G120 -- a test fake; the body is capped above
			return nil, fmt.Errorf("can't parse multipart form: %v", err)
		}
	default:
		if err := r.ParseForm(); err != nil {
			return nil, fmt.Errorf("can't parse form: %v", err)
		}
	}
	for k, vs := range r.Form {
		if len(vs) > 0 {
			p[k] = vs[0]
		}
	}
	return p, nil
}

// int64Param parses an optional integer; absent or empty is 0.
func (p params) int64Param(name string) (int64, error) {
	v := p[name]
	if v == "" {
		return 0, nil
	}
	n, err := strconv.ParseInt(v, 10, 64)
	if err != nil {
		return 0, badRequest(fmt.Sprintf("wrong parameter %s specified", name))
	}
	return n, nil
}

// boolParam parses an optional boolean as Telegram does, loosely.
func (p params) boolParam(name string) bool {
	switch strings.ToLower(p[name]) {
	case "true", "1":
		return true
	}
	return false
}

// chatID parses chat_id; "@channelusername" names no chat this fake knows.
func (p params) chatID() (int64, error) {
	v := p["chat_id"]
	if v == "" {
		return 0, badRequest("chat_id is empty")
	}
	id, err := strconv.ParseInt(v, 10, 64)
	if err != nil || id == 0 {
		return 0, badRequest("chat not found")
	}
	return id, nil
}

// apiError is a Telegram error answer.
type apiError struct {
	code        int
	description string
	retryAfter  int
}

func (e *apiError) Error() string { return e.description }

func badRequest(msg string) *apiError {
	return &apiError{code: 400, description: "Bad Request: " + msg}
}

var (
	errBlocked      = &apiError{code: 403, description: "Forbidden: bot was blocked by the user"}
	errChatNotFound = badRequest("chat not found")
	errConflict     = &apiError{code: 409, description: "Conflict: terminated by other getUpdates request; make sure that only one bot instance is running"}
)

func tooManyRequests(retryAfter int) *apiError {
	return &apiError{
		code:        429,
		description: fmt.Sprintf("Too Many Requests: retry after %d", retryAfter),
		retryAfter:  retryAfter,
	}
}

type okBody struct {
	OK     bool `json:"ok"`
	Result any  `json:"result"`
}

type errBody struct {
	OK          bool            `json:"ok"`
	ErrorCode   int             `json:"error_code"`
	Description string          `json:"description"`
	Parameters  *wireParameters `json:"parameters,omitempty"`
}

type wireParameters struct {
	RetryAfter      int   `json:"retry_after,omitempty"`
	MigrateToChatID int64 `json:"migrate_to_chat_id,omitempty"`
}

func errorBody(e *apiError) errBody {
	b := errBody{ErrorCode: e.code, Description: e.description}
	if e.retryAfter > 0 {
		b.Parameters = &wireParameters{RetryAfter: e.retryAfter}
	}
	return b
}

func writeJSON(w http.ResponseWriter, status int, v any) {
	body, err := json.Marshal(v)
	if err != nil {
		http.Error(w, "telegramtest: encode answer: "+err.Error(), http.StatusInternalServerError)
		return
	}
	w.Header().Set("Content-Type", "application/json")
	w.WriteHeader(status)
	_, _ = w.Write(body)
}

// notify wakes every waiter; s.mu must be held.
func (s *Server) notify() {
	close(s.changed)
	s.changed = make(chan struct{})
}

// await calls cond with s.mu held until it reports true, waking on every
// change, or until ctx ends.
func (s *Server) await(ctx context.Context, cond func() bool) error {
	for {
		s.mu.Lock()
		ok := cond()
		ch := s.changed
		s.mu.Unlock()
		if ok {
			return nil
		}
		select {
		case <-ch:
		case <-ctx.Done():
			return ctx.Err()
		}
	}
}

// Calls reports how many requests reached method, whatever the answer
// (faults, refusals and unknown methods included).
func (s *Server) Calls(method string) int {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.calls[methodName(method)]
}

func (s *Server) getMe(context.Context, params) (any, error) {
	return wireBot{
		wireUser:                s.bot,
		CanJoinGroups:           true,
		CanReadAllGroupMessages: false,
		SupportsInlineQueries:   false,
	}, nil
}

func (s *Server) deleteWebhook(context.Context, params) (any, error) {
	return true, nil
}

// setMyCommands checks the commands as Telegram does and records nothing.
func (s *Server) setMyCommands(_ context.Context, p params) (any, error) {
	var cmds []struct {
		Command     string `json:"command"`
		Description string `json:"description"`
	}
	if err := json.Unmarshal([]byte(p["commands"]), &cmds); err != nil {
		return nil, badRequest("can't parse commands JSON object")
	}
	for _, c := range cmds {
		if !validCommand(c.Command) {
			return nil, badRequest("BOT_COMMAND_INVALID")
		}
		if c.Description == "" || len([]rune(c.Description)) > 256 {
			return nil, badRequest("BOT_COMMAND_DESCRIPTION_INVALID")
		}
	}
	return true, nil
}

// validCommand reports whether name is 1-32 of a-z, 0-9, _ (no upper case).
func validCommand(name string) bool {
	if name == "" || len(name) > 32 {
		return false
	}
	for _, c := range []byte(name) {
		if (c < 'a' || c > 'z') && (c < '0' || c > '9') && c != '_' {
			return false
		}
	}
	return true
}
