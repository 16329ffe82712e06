//go:build !nocontract

package httpapi

import (
	"bufio"
	"context"
	"encoding/base64"
	"encoding/json"
	"errors"
	"flag"
	"fmt"
	"io"
	"net/http/httptest"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"
)

var docsScreenshot = flag.String("docs-screenshot", "", "copy TestDocsInChromium's screenshot of /docs to this file")

// TestDocsInChromium loads /docs and /docs/ in Debian's headless chromium,
// driven over the DevTools protocol on a pipe (--remote-debugging-pipe,
// no library): the page must list every operation of the spec, run "Try
// it out" against the server, and log no error (exception, console.error,
// failed load). It skips without chromium, unless CI is set: .ci/run
// installs it.
func TestDocsInChromium(t *testing.T) {
	bin, err := exec.LookPath("chromium")
	if err != nil {
		if os.Getenv("CI") != "" {
			t.Fatalf("chromium is not installed and CI is set (.ci/run installs it): %v", err)
		}
		t.Skip("chromium is not installed (apt-get install chromium)")
	}
	ct := loadContract(t)
	var want []string
	for _, k := range ct.ops() {
		want = append(want, k.String())
	}

	e := newEnv(t)
	srv := httptest.NewServer(e.server)
	t.Cleanup(srv.Close)

	// Cleanups run last in, first out: chromium closes before cancel.
	ctx, cancel := context.WithTimeout(t.Context(), 90*time.Second)
	t.Cleanup(cancel)
	b := startChromium(ctx, t, bin)

	for _, p := range []string{"/docs", "/docs/"} {
		t.Run(p, func(t *testing.T) {
			ctx, cancel := context.WithTimeout(ctx, 30*time.Second)
			defer cancel()
			page, err := b.newPage(ctx)
			if err != nil {
				t.Fatal(err)
			}
			if err := page.navigate(ctx, srv.URL+p); err != nil {
				t.Fatal(err)
			}

			// Every operation, as the rendered page lists it.
			var got []string
			if err := page.eval(ctx, docsOperationsJS, &got); err != nil {
				t.Fatalf("operations: %v", err)
			}
			slices.Sort(got)
			if !slices.Equal(got, want) {
				t.Errorf("%s lists operations\n%s\nwant\n%s", p, strings.Join(got, "\n"), strings.Join(want, "\n"))
			}

			// Try it out: GET /healthz from the page, to this server.
			var status string
			if err := page.eval(ctx, docsTryItOutJS, &status); err != nil {
				t.Fatalf("try it out: %v", err)
			}
			if status != "200" {
				t.Errorf("%s: GET /healthz tried out answered %q, want 200", p, status)
			}

			png, err := page.screenshot(ctx)
			if err != nil {
				t.Fatal(err)
			}
			shot := filepath.Join(t.TempDir(), "docs.png")
			if err := os.WriteFile(shot, png, 0o644); err != nil {
				t.Fatal(err)
			}
			if *docsScreenshot != "" && p == "/docs" {
				if err := os.WriteFile(*docsScreenshot, png, 0o644); err != nil {
					t.Fatal(err)
				}
			}

			for _, msg := range page.problems() {
				t.Errorf("%s logged an error: %s", p, msg)
			}
		})
	}
}

// docsOperationsJS waits for Swagger UI to render the spec's operations
// and returns them as "METHOD /path".
const docsOperationsJS = `(async () => {
	await waitFor(() => document.querySelector('.opblock'));
	return [...document.querySelectorAll('.opblock')].map(op =>
		op.querySelector('.opblock-summary-method').textContent.trim() + ' ' +
		op.querySelector('.opblock-summary-path').dataset.path);
})()`

// docsTryItOutJS opens GET /healthz, executes it (try-it-out is on, so
// there is no "Try it out" button to press first) and returns the status
// the page shows. Execute shows before the operation is resolved, when a
// click does nothing: the documented responses show after.
const docsTryItOutJS = `(async () => {
	const op = document.querySelector('#operations-Operations-healthz');
	op.querySelector('.opblock-summary-control').click();
	await waitFor(() => op.querySelector('#get_healthz_responses'));
	op.querySelector('button.execute').click();
	const cell = await waitFor(() => op.querySelector('.live-responses-table tr.response .response-col_status'));
	return cell.textContent.trim();
})()`

// docsWaitForJS defines waitFor(f): a promise of f's first truthy value,
// checked on every DOM change. The test's context bounds the wait.
const docsWaitForJS = `window.waitFor = f => new Promise(resolve => {
	const v = f();
	if (v) return resolve(v);
	const o = new MutationObserver(() => {
		const v = f();
		if (v) { o.disconnect(); resolve(v); }
	});
	o.observe(document, {childList: true, subtree: true, attributes: true});
});`

// chromium is a headless chromium driven over --remote-debugging-pipe:
// NUL-terminated JSON messages on fds 3 (to chromium) and 4 (from it).
type chromium struct {
	w    io.Writer
	done chan struct{} // closed when chromium's end of the pipe closes

	mu      sync.Mutex
	nextID  int
	pending map[int]chan cdpMessage
	events  map[string][]cdpMessage // by session
	notify  chan struct{}           // closed and replaced on each event
}

type cdpMessage struct {
	ID        int             `json:"id,omitempty"`
	SessionID string          `json:"sessionId,omitempty"`
	Method    string          `json:"method,omitempty"`
	Params    json.RawMessage `json:"params,omitempty"`
	Result    json.RawMessage `json:"result,omitempty"`
	Error     *struct {
		Message string `json:"message"`
	} `json:"error,omitempty"`
}

// startChromium starts chromium; ctx bounds its life, and the test's
// cleanup closes it and waits for it to exit.
func startChromium(ctx context.Context, t *testing.T, bin string) *chromium {
	t.Helper()
	toR, toW, err := os.Pipe()
	if err != nil {
		t.Fatal(err)
	}
	fromR, fromW, err := os.Pipe()
	if err != nil {
		t.Fatal(err)
	}
	cmd := exec.CommandContext(ctx, bin,
		"--headless", "--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run",
		"--disable-background-networking", "--disable-component-update", "--disable-sync",
		"--user-data-dir="+t.TempDir(), "--window-size=1280,2000",
		"--remote-debugging-pipe", "about:blank")
	var stderr strings.Builder
	cmd.Stderr = &stderr
	cmd.WaitDelay = 5 * time.Second // its helpers may hold stderr open
	cmd.ExtraFiles = []*os.File{toR, fromW}
	if err := cmd.Start(); err != nil {
		t.Fatalf("start chromium: %v", err)
	}
	// Chromium holds its ends now; closing ours lets a read see its exit.
	toR.Close()
	fromW.Close()

	b := &chromium{
		w:       toW,
		done:    make(chan struct{}),
		pending: map[int]chan cdpMessage{},
		events:  map[string][]cdpMessage{},
		notify:  make(chan struct{}),
	}
	go b.read(fromR)
	t.Cleanup(func() {
		closeCtx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
		defer cancel()
		if err := b.call(closeCtx, "", "Browser.close", nil, nil); err != nil {
			cmd.Process.Kill()
		}
		toW.Close()
		<-b.done
		fromR.Close()
		if err := cmd.Wait(); err != nil && ctx.Err() == nil {
			t.Logf("chromium: %v\n%s", err, stderr.String())
		}
	})
	return b
}

// read dispatches chromium's messages until its end of the pipe closes.
func (b *chromium) read(r io.Reader) {
	defer close(b.done)
	br := bufio.NewReader(r)
	for {
		raw, err := br.ReadBytes(0)
		if err != nil {
			return
		}
		var m cdpMessage
		if err := json.Unmarshal(raw[:len(raw)-1], &m); err != nil {
			continue
		}
		b.mu.Lock()
		if m.ID != 0 {
			if ch := b.pending[m.ID]; ch != nil {
				ch <- m // buffered
				delete(b.pending, m.ID)
			}
		} else {
			b.events[m.SessionID] = append(b.events[m.SessionID], m)
			close(b.notify)
			b.notify = make(chan struct{})
		}
		b.mu.Unlock()
	}
}

// call sends method to session ("" for the browser) and decodes the
// result into result, if not nil.
func (b *chromium) call(ctx context.Context, session, method string, params, result any) error {
	b.mu.Lock()
	b.nextID++
	id := b.nextID
	ch := make(chan cdpMessage, 1)
	b.pending[id] = ch
	msg, err := json.Marshal(struct {
		ID        int    `json:"id"`
		SessionID string `json:"sessionId,omitempty"`
		Method    string `json:"method"`
		Params    any    `json:"params,omitempty"`
	}{id, session, method, params})
	if err == nil {
		_, err = b.w.Write(append(msg, 0))
	}
	b.mu.Unlock()
	if err != nil {
		return fmt.Errorf("%s: %w", method, err)
	}
	select {
	case m := <-ch:
		if m.Error != nil {
			return fmt.Errorf("%s: %s", method, m.Error.Message)
		}
		if result != nil {
			return json.Unmarshal(m.Result, result)
		}
		return nil
	case <-b.done:
		return fmt.Errorf("%s: chromium exited", method)
	case <-ctx.Done():
		return fmt.Errorf("%s: %w", method, ctx.Err())
	}
}

// awaitEvent waits for the first event named method in session.
func (b *chromium) awaitEvent(ctx context.Context, session, method string) error {
	for {
		b.mu.Lock()
		found := slices.ContainsFunc(b.events[session], func(m cdpMessage) bool { return m.Method == method })
		notify := b.notify
		b.mu.Unlock()
		if found {
			return nil
		}
		select {
		case <-notify:
		case <-b.done:
			return fmt.Errorf("await %s: chromium exited", method)
		case <-ctx.Done():
			return fmt.Errorf("await %s: %w", method, ctx.Err())
		}
	}
}

// page is a tab, attached with its own session.
type page struct {
	b       *chromium
	session string
}

// newPage opens a blank tab and turns on the events problems reads.
func (b *chromium) newPage(ctx context.Context) (*page, error) {
	var target struct {
		TargetID string `json:"targetId"`
	}
	if err := b.call(ctx, "", "Target.createTarget", map[string]any{"url": "about:blank"}, &target); err != nil {
		return nil, err
	}
	var attached struct {
		SessionID string `json:"sessionId"`
	}
	if err := b.call(ctx, "", "Target.attachToTarget", map[string]any{"targetId": target.TargetID, "flatten": true}, &attached); err != nil {
		return nil, err
	}
	p := &page{b: b, session: attached.SessionID}
	for _, m := range []string{"Page.enable", "Runtime.enable", "Log.enable"} {
		if err := b.call(ctx, p.session, m, nil, nil); err != nil {
			return nil, err
		}
	}
	err := b.call(ctx, p.session, "Emulation.setDeviceMetricsOverride",
		map[string]any{"width": 1280, "height": 2000, "deviceScaleFactor": 1, "mobile": false}, nil)
	if err != nil {
		return nil, err
	}
	return p, nil
}

// navigate loads url and waits for its load event; then it defines
// waitFor for eval's scripts.
func (p *page) navigate(ctx context.Context, url string) error {
	var nav struct {
		ErrorText string `json:"errorText"`
	}
	if err := p.b.call(ctx, p.session, "Page.navigate", map[string]any{"url": url}, &nav); err != nil {
		return err
	}
	if nav.ErrorText != "" {
		return fmt.Errorf("navigate %s: %s", url, nav.ErrorText)
	}
	if err := p.b.awaitEvent(ctx, p.session, "Page.loadEventFired"); err != nil {
		return err
	}
	return p.eval(ctx, docsWaitForJS, nil)
}

// eval evaluates expr in the page, awaits the promise it may return and
// decodes its value into v, if not nil.
func (p *page) eval(ctx context.Context, expr string, v any) error {
	var res struct {
		Result struct {
			Value json.RawMessage `json:"value"`
		} `json:"result"`
		ExceptionDetails *struct {
			Text      string `json:"text"`
			Exception struct {
				Description string `json:"description"`
			} `json:"exception"`
		} `json:"exceptionDetails"`
	}
	err := p.b.call(ctx, p.session, "Runtime.evaluate",
		map[string]any{"expression": expr, "awaitPromise": true, "returnByValue": true}, &res)
	if err != nil {
		return err
	}
	if d := res.ExceptionDetails; d != nil {
		return errors.New(d.Text + " " + d.Exception.Description)
	}
	if v == nil {
		return nil
	}
	return json.Unmarshal(res.Result.Value, v)
}

// screenshot returns a PNG of the whole page.
func (p *page) screenshot(ctx context.Context) ([]byte, error) {
	var shot struct {
		Data string `json:"data"`
	}
	if err := p.b.call(ctx, p.session, "Page.captureScreenshot", map[string]any{"format": "png"}, &shot); err != nil {
		return nil, err
	}
	return base64.StdEncoding.DecodeString(shot.Data)
}

// problems returns the errors the page reported so far: uncaught
// exceptions, console.error and console.assert calls, and error log
// entries (a failed load, a refused script).
func (p *page) problems() []string {
	p.b.mu.Lock()
	defer p.b.mu.Unlock()
	var out []string
	for _, m := range p.b.events[p.session] {
		switch m.Method {
		case "Runtime.exceptionThrown":
			var ev struct {
				ExceptionDetails struct {
					Text      string `json:"text"`
					URL       string `json:"url"`
					Exception struct {
						Description string `json:"description"`
					} `json:"exception"`
				} `json:"exceptionDetails"`
			}
			json.Unmarshal(m.Params, &ev)
			d := ev.ExceptionDetails
			out = append(out, fmt.Sprintf("exception: %s %s (%s)", d.Text, d.Exception.Description, d.URL))
		case "Runtime.consoleAPICalled":
			var ev struct {
				Type string            `json:"type"`
				Args []json.RawMessage `json:"args"`
			}
			json.Unmarshal(m.Params, &ev)
			if ev.Type == "error" || ev.Type == "assert" {
				out = append(out, fmt.Sprintf("console.%s: %s", ev.Type, ev.Args))
			}
		case "Log.entryAdded":
			var ev struct {
				Entry struct {
					Level  string `json:"level"`
					Source string `json:"source"`
					Text   string `json:"text"`
					URL    string `json:"url"`
				} `json:"entry"`
			}
			json.Unmarshal(m.Params, &ev)
			if e := ev.Entry; e.Level == "error" {
				out = append(out, fmt.Sprintf("%s: %s (%s)", e.Source, e.Text, e.URL))
			}
		}
	}
	return out
}
