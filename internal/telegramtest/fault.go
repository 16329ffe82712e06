package telegramtest

import (
	"fmt"
	"math/rand/v2"
	"net/http"
	"slices"
)

// Fault is a scripted failure of one call, queued with FailNext.
type Fault struct {
	err  *apiError // a Telegram JSON error answer
	html int       // or: this status with an HTML page, as a proxy answers
	hang bool      // or: no answer until the request's context ends
}

// TooManyRequests answers 429 "Too Many Requests: retry after N" with
// parameters.retry_after = retryAfter, as Telegram's flood control does.
// It is not counted by LimitViolations.
func TooManyRequests(retryAfter int) Fault {
	return Fault{err: tooManyRequests(retryAfter)}
}

// ServerError answers 500 with an HTML page and no JSON, as nginx in front
// of the Bot API does; the library reports a JSON syntax error and loses the
// status.
func ServerError() Fault { return Fault{html: http.StatusInternalServerError} }

// BadGateway answers 502 with Telegram's JSON error body
// {"ok":false,"error_code":502,"description":"Bad Gateway"}.
func BadGateway() Fault {
	return Fault{err: &apiError{code: 502, description: "Bad Gateway"}}
}

// Blocked answers 403 "Forbidden: bot was blocked by the user".
func Blocked() Fault { return Fault{err: errBlocked} }

// ChatNotFound answers 400 "Bad Request: chat not found".
func ChatNotFound() Fault { return Fault{err: errChatNotFound} }

// Hang never answers: the call ends when its request context does (the
// client's timeout) or when the test is cleaned up.
func Hang() Fault { return Fault{hang: true} }

// APIError answers status code with description, e.g.
// APIError(400, "Bad Request: message is not modified").
func APIError(code int, description string) Fault {
	return Fault{err: &apiError{code: code, description: description}}
}

// FailNext makes the next call to method fail with f instead of being
// served. Faults queue per method and are consumed in order, one per call;
// a failed call records nothing but Calls.
func (s *Server) FailNext(method string, f Fault) {
	method = methodName(method)
	s.mu.Lock()
	defer s.mu.Unlock()
	s.faults[method] = append(s.faults[method], f)
}

// FailRandomly makes each later call to method fail, with probability
// rate, with one of faults drawn at random, each as likely as the others,
// as a flaky Telegram would. The draws come from a generator seeded with
// seed; which call gets which draw still depends on the order calls
// arrive in. Faults queued with FailNext go first. A call that draws no
// fault is served as usual, BlockChat and ForgetChat included. A later
// FailRandomly for the method replaces the mix; rate 0 or no faults
// removes it.
func (s *Server) FailRandomly(method string, seed uint64, rate float64, faults ...Fault) {
	method = methodName(method)
	s.mu.Lock()
	defer s.mu.Unlock()
	if rate <= 0 || len(faults) == 0 {
		delete(s.mixes, method)
		return
	}
	s.mixes[method] = &faultMix{
		rng:    rand.New(rand.NewPCG(seed, seed^0x9e3779b97f4a7c15)), // #nosec G404 -- a test's fault schedule, not a secret
		rate:   rate,
		faults: slices.Clone(faults),
	}
}

// faultMix is a random fault schedule for one method.
type faultMix struct {
	rng    *rand.Rand
	rate   float64
	faults []Fault
}

// draw returns the fault for the next call, or nil.
func (m *faultMix) draw() *Fault {
	if m.rng.Float64() >= m.rate {
		return nil
	}
	f := m.faults[m.rng.IntN(len(m.faults))]
	return &f
}

// nextFault takes the fault, if any, that the next call to method gets;
// s.mu must be held.
func (s *Server) nextFault(method string) *Fault {
	if q := s.faults[method]; len(q) > 0 {
		f := q[0]
		s.faults[method] = q[1:]
		return &f
	}
	if m := s.mixes[method]; m != nil {
		return m.draw()
	}
	return nil
}

// FaultsServed reports how many calls to method were answered with a
// fault, queued or random.
func (s *Server) FaultsServed(method string) int {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.served[methodName(method)]
}

// BlockChat makes every later send or edit to chatID fail with 403
// "Forbidden: bot was blocked by the user", as after the user blocks the bot.
func (s *Server) BlockChat(chatID int64) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.blocked[chatID] = true
}

// ForgetChat makes every later send or edit to chatID fail with 400
// "Bad Request: chat not found", as for a deleted account.
func (s *Server) ForgetChat(chatID int64) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.forgotten[chatID] = true
}

// chatError is the persistent refusal for chatID, if any; s.mu must be held.
func (s *Server) chatError(chatID int64) error {
	switch {
	case s.forgotten[chatID]:
		return errChatNotFound
	case s.blocked[chatID]:
		return errBlocked
	}
	return nil
}

const proxyErrorPage = "<html>\r\n<head><title>%d %s</title></head>\r\n<body>\r\n" +
	"<center><h1>%d %s</h1></center>\r\n<hr><center>nginx</center>\r\n</body>\r\n</html>\r\n"

func (s *Server) serveFault(w http.ResponseWriter, r *http.Request, f *Fault) {
	switch {
	case f.hang:
		select {
		case <-r.Context().Done():
		case <-s.done:
		}
	case f.html != 0:
		w.Header().Set("Content-Type", "text/html")
		w.WriteHeader(f.html)
		text := http.StatusText(f.html)
		_, _ = w.Write(fmt.Appendf(nil, proxyErrorPage, f.html, text, f.html, text))
	default:
		writeJSON(w, f.err.code, errorBody(f.err))
	}
}
