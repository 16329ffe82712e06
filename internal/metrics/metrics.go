// Package metrics defines tgauth's Prometheus series and serves them. Each
// process builds its own registry with NewRegistry and hands it to the
// parts it instruments; nothing registers with Prometheus's global
// registry, so tests build as many as they like.
//
// No label carries user data: routes are Gin's route patterns (never the
// requested path), and every other label takes values from a fixed set
// declared here. No chat id, email, username or IP reaches a label.
package metrics

import (
	"context"
	"log/slog"
	"net/http"
	"strconv"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/collectors"
	"github.com/prometheus/client_golang/prometheus/promhttp"
)

// NewRegistry returns a registry holding the Go runtime and process
// collectors.
func NewRegistry() *prometheus.Registry {
	reg := prometheus.NewRegistry()
	reg.MustRegister(
		collectors.NewGoCollector(),
		collectors.NewProcessCollector(collectors.ProcessCollectorOpts{}),
	)
	return reg
}

// Handler serves what reg gathers in the Prometheus text format. A
// collector that fails (the database does not answer) drops its own series
// and is logged to log; the rest are still served.
func Handler(reg *prometheus.Registry, log *slog.Logger) http.Handler {
	return promhttp.HandlerFor(reg, promhttp.HandlerOpts{
		ErrorLog:      slog.NewLogLogger(log.Handler(), slog.LevelWarn),
		ErrorHandling: promhttp.ContinueOnError,
	})
}

// HTTP holds the API's request, login and rate-limit series. A nil *HTTP
// records nothing.
type HTTP struct {
	requests    *prometheus.CounterVec
	duration    *prometheus.HistogramVec
	logins      *prometheus.CounterVec
	rateLimited *prometheus.CounterVec
}

// Unmatched is the route label of a request no route matched (404, 405).
const Unmatched = "unmatched"

// Login results: the outcome of a login request as its answer tells it,
// no more (an unknown account, a wrong password and a locked account are
// one invalid_credentials, as in the answer).
const (
	LoginSuccess            = "success"
	LoginInvalidCredentials = "invalid_credentials" // #nosec G101 -- a label value, not a credential
	LoginForbidden          = "forbidden"           // a right password, but not an admin
	LoginRateLimited        = "rate_limited"        // refused before the password was checked
	LoginInvalid            = "invalid"             // a body that does not parse or validate
	LoginError              = "error"               // a fault of ours
)

var loginResults = []string{LoginSuccess, LoginInvalidCredentials, LoginForbidden, LoginRateLimited, LoginInvalid, LoginError}

// Rate limits, the limit label of tgauth_rate_limited_total.
const (
	LimitIP      = "ip"
	LimitAccount = "account"
)

// NewHTTP registers the API's series with reg.
func NewHTTP(reg prometheus.Registerer) (*HTTP, error) {
	m := &HTTP{
		requests: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "tgauth_http_requests_total",
			Help: "HTTP requests answered, by route pattern, method and status.",
		}, []string{"route", "method", "status"}),
		duration: prometheus.NewHistogramVec(prometheus.HistogramOpts{
			Name:    "tgauth_http_request_duration_seconds",
			Help:    "Time to answer an HTTP request, by route pattern and method.",
			Buckets: []float64{.005, .01, .025, .05, .1, .25, .5, 1, 2.5, 5, 10, 30},
		}, []string{"route", "method"}),
		logins: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "tgauth_logins_total",
			Help: "Login requests by result: success, invalid_credentials, forbidden, rate_limited, invalid or error.",
		}, []string{"result"}),
		rateLimited: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "tgauth_rate_limited_total",
			Help: "Requests refused with 429 by a rate limit, by route pattern and limit (ip or account).",
		}, []string{"route", "limit"}),
	}
	for _, c := range []prometheus.Collector{m.requests, m.duration, m.logins, m.rateLimited} {
		if err := reg.Register(c); err != nil {
			return nil, err
		}
	}
	for _, r := range loginResults {
		m.logins.WithLabelValues(r)
	}
	return m, nil
}

// ObserveRequest counts one answered request. route is the route pattern
// (Unmatched when none matched); a method outside the standard ones counts
// as "other".
func (m *HTTP) ObserveRequest(route, method string, status int, d time.Duration) {
	if m == nil {
		return
	}
	method = normalizeMethod(method)
	m.requests.WithLabelValues(route, method, statusText(status)).Inc()
	m.duration.WithLabelValues(route, method).Observe(d.Seconds())
}

// Login counts one login request with result, one of the Login constants.
func (m *HTTP) Login(result string) {
	if m == nil {
		return
	}
	m.logins.WithLabelValues(result).Inc()
}

// RateLimited counts one refusal of route by limit (LimitIP or LimitAccount).
func (m *HTTP) RateLimited(route, limit string) {
	if m == nil {
		return
	}
	m.rateLimited.WithLabelValues(route, limit).Inc()
}

// normalizeMethod keeps the method label to a fixed set: the method is
// whatever the client sent.
func normalizeMethod(method string) string {
	switch method {
	case http.MethodGet, http.MethodHead, http.MethodPost, http.MethodPut, http.MethodPatch,
		http.MethodDelete, http.MethodOptions, http.MethodConnect, http.MethodTrace:
		return method
	}
	return "other"
}

// statusText is the status label: the three digits, or "other" for a
// code outside 100-599.
func statusText(status int) string {
	if status < 100 || status > 599 {
		return "other"
	}
	return strconv.Itoa(status)
}

// PasswordHasher is what the hash gauges read: a password.Hasher.
type PasswordHasher interface {
	InFlight() int
	Waiting() int
}

// RegisterHasher registers gauges of h's hashes running and queued.
func RegisterHasher(reg prometheus.Registerer, h PasswordHasher) error {
	for _, c := range []prometheus.Collector{
		prometheus.NewGaugeFunc(prometheus.GaugeOpts{
			Name: "tgauth_password_hashes_in_flight",
			Help: "Password hashes (argon2id) running now.",
		}, func() float64 { return float64(h.InFlight()) }),
		prometheus.NewGaugeFunc(prometheus.GaugeOpts{
			Name: "tgauth_password_hashes_waiting",
			Help: "Password hashes queued for a slot (password.max_concurrent_hashes are running).",
		}, func() float64 { return float64(h.Waiting()) }),
	} {
		if err := reg.Register(c); err != nil {
			return err
		}
	}
	return nil
}

// OutboxStats is what the outbox gauges read: sqlite.Store.
type OutboxStats interface {
	// OutboxStats returns how many messages are due at now and how long
	// the oldest of them has been queued.
	OutboxStats(ctx context.Context, now time.Time) (due int, oldestDue time.Duration, err error)
}

// outboxTimeout bounds the query behind one scrape of the outbox gauges.
const outboxTimeout = 2 * time.Second

// outboxCollector queries the outbox on every scrape.
type outboxCollector struct {
	src    OutboxStats
	now    func() time.Time
	due    *prometheus.Desc
	oldest *prometheus.Desc
}

// NewOutboxCollector returns a collector of the outbox's backlog, read from
// src on each scrape (within 2s) at the time now returns. When the query
// fails, the scrape lacks both series and reports the error.
func NewOutboxCollector(src OutboxStats, now func() time.Time) prometheus.Collector {
	return &outboxCollector{
		src: src,
		now: now,
		due: prometheus.NewDesc("tgauth_outbox_due_messages",
			"Outbox messages due for sending now: unsent, not given up, next attempt reached.", nil, nil),
		oldest: prometheus.NewDesc("tgauth_outbox_oldest_due_age_seconds",
			"Seconds since the oldest due outbox message was queued; 0 when none is due.", nil, nil),
	}
}

func (c *outboxCollector) Describe(ch chan<- *prometheus.Desc) {
	ch <- c.due
	ch <- c.oldest
}

func (c *outboxCollector) Collect(ch chan<- prometheus.Metric) {
	ctx, cancel := context.WithTimeout(context.Background(), outboxTimeout)
	defer cancel()
	due, oldest, err := c.src.OutboxStats(ctx, c.now())
	if err != nil {
		ch <- prometheus.NewInvalidMetric(c.due, err)
		return
	}
	ch <- prometheus.MustNewConstMetric(c.due, prometheus.GaugeValue, float64(due))
	ch <- prometheus.MustNewConstMetric(c.oldest, prometheus.GaugeValue, oldest.Seconds())
}

// Bot holds the bot's delivery, throttling and update series. A nil *Bot
// records nothing.
type Bot struct {
	sends     *prometheus.CounterVec
	throttled prometheus.Counter
	sendTime  prometheus.Histogram
	updates   *prometheus.CounterVec
}

// Send results: what became of a claimed outbox message in one pass.
const (
	SendSent     = "sent"     // Telegram took it
	SendRetried  = "retried"  // the send failed (5xx, timeout, 429) and will be tried again
	SendDead     = "dead"     // given up: blocked, chat gone, expired, too many tries
	SendDeferred = "deferred" // put back unsent by our own pacing or a shutdown
)

var sendResults = []string{SendSent, SendRetried, SendDead, SendDeferred}

// Update types, the type label of tgauth_bot_updates_total.
const (
	UpdateMessage  = "message"
	UpdateCallback = "callback"
	UpdateOther    = "other"
)

var updateTypes = []string{UpdateMessage, UpdateCallback, UpdateOther}

// NewBot registers the bot's series with reg.
func NewBot(reg prometheus.Registerer) (*Bot, error) {
	m := &Bot{
		sends: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "tgauth_outbox_sends_total",
			Help: "Outbox messages handled by the dispatcher, by result: sent, retried, dead or deferred.",
		}, []string{"result"}),
		throttled: prometheus.NewCounter(prometheus.CounterOpts{
			Name: "tgauth_telegram_throttled_total",
			Help: "Telegram answers 429 Too Many Requests, to sends and polls.",
		}),
		sendTime: prometheus.NewHistogram(prometheus.HistogramOpts{
			Name:    "tgauth_telegram_send_duration_seconds",
			Help:    "Time of one sendMessage call by the dispatcher, failed ones included.",
			Buckets: []float64{.05, .1, .25, .5, 1, 2.5, 5, 10, 15},
		}),
		updates: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "tgauth_bot_updates_total",
			Help: "Telegram updates handled by the bot, by type: message, callback or other.",
		}, []string{"type"}),
	}
	for _, c := range []prometheus.Collector{m.sends, m.throttled, m.sendTime, m.updates} {
		if err := reg.Register(c); err != nil {
			return nil, err
		}
	}
	for _, r := range sendResults {
		m.sends.WithLabelValues(r)
	}
	for _, t := range updateTypes {
		m.updates.WithLabelValues(t)
	}
	return m, nil
}

// Send counts one outbox message handled with result, a Send constant.
func (m *Bot) Send(result string) {
	if m == nil {
		return
	}
	m.sends.WithLabelValues(result).Inc()
}

// Throttled counts one 429 from Telegram.
func (m *Bot) Throttled() {
	if m == nil {
		return
	}
	m.throttled.Inc()
}

// ObserveSend records how long one send to Telegram took.
func (m *Bot) ObserveSend(d time.Duration) {
	if m == nil {
		return
	}
	m.sendTime.Observe(d.Seconds())
}

// Update counts one update of type typ, an Update constant.
func (m *Bot) Update(typ string) {
	if m == nil {
		return
	}
	m.updates.WithLabelValues(typ).Inc()
}
