// Package chromiumtest drives Debian's headless chromium over the DevTools
// protocol on a pipe (--remote-debugging-pipe, no library), for tests of
// pages in a real browser: load one, run scripts in it, take a
// screenshot, and read the errors it logged.
package chromiumtest

import (
	"bufio"
	"context"
	"encoding/base64"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"os"
	"os/exec"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"
)

// waitForJS defines waitFor(f): a promise of f's first truthy value,
// checked on every DOM change. The caller's context bounds the wait.
const waitForJS = `window.waitFor = f => new Promise(resolve => {
	const v = f();
	if (v) return resolve(v);
	const o = new MutationObserver(() => {
		const v = f();
		if (v) { o.disconnect(); resolve(v); }
	});
	o.observe(document, {childList: true, subtree: true, attributes: true});
});`

// Browser is a headless chromium driven over --remote-debugging-pipe:
// NUL-terminated JSON messages on fds 3 (to chromium) and 4 (from it).
type Browser struct {
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

// Start starts Debian's headless chromium; ctx bounds its life, and the
// test's cleanup closes it and waits for it to exit. It skips the test
// without chromium, unless CI is set: .ci/run installs it.
func Start(ctx context.Context, t *testing.T) *Browser {
	t.Helper()
	bin, err := exec.LookPath("chromium")
	if err != nil {
		if os.Getenv("CI") != "" {
			t.Fatalf("chromium is not installed and CI is set (.ci/run installs it): %v", err)
		}
		t.Skip("chromium is not installed (apt-get install chromium)")
	}
	toR, toW, err := os.Pipe()
	if err != nil {
		t.Fatal(err)
	}
	fromR, fromW, err := os.Pipe()
	if err != nil {
		t.Fatal(err)
	}
	cmd := exec.CommandContext(ctx, bin, // #nosec G204 -- chromium from PATH, fixed arguments
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
	_ = toR.Close()
	_ = fromW.Close()

	b := &Browser{
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
			_ = cmd.Process.Kill()
		}
		_ = toW.Close()
		<-b.done
		_ = fromR.Close()
		if err := cmd.Wait(); err != nil && ctx.Err() == nil {
			t.Logf("chromium: %v\n%s", err, stderr.String())
		}
	})
	return b
}

// read dispatches chromium's messages until its end of the pipe closes.
func (b *Browser) read(r io.Reader) {
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
func (b *Browser) call(ctx context.Context, session, method string, params, result any) error {
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
func (b *Browser) awaitEvent(ctx context.Context, session, method string) error {
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

// Page is a tab, attached with its own session.
type Page struct {
	b       *Browser
	session string
}

// NewPage opens a blank tab and turns on the events Problems reads.
func (b *Browser) NewPage(ctx context.Context) (*Page, error) {
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
	p := &Page{b: b, session: attached.SessionID}
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

// Navigate loads url and waits for its load event; then it defines
// waitFor for Eval's scripts.
func (p *Page) Navigate(ctx context.Context, url string) error {
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
	return p.Eval(ctx, waitForJS, nil)
}

// Eval evaluates expr in the page, awaits the promise it may return and
// decodes its value into v, if not nil.
func (p *Page) Eval(ctx context.Context, expr string, v any) error {
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

// Screenshot returns a PNG of the whole page.
func (p *Page) Screenshot(ctx context.Context) ([]byte, error) {
	var shot struct {
		Data string `json:"data"`
	}
	if err := p.b.call(ctx, p.session, "Page.captureScreenshot", map[string]any{"format": "png"}, &shot); err != nil {
		return nil, err
	}
	return base64.StdEncoding.DecodeString(shot.Data)
}

// Problems returns the errors the page reported so far: uncaught
// exceptions, console.error and console.assert calls, and error log
// entries (a failed load, a refused script).
func (p *Page) Problems() []string {
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
			_ = json.Unmarshal(m.Params, &ev) // an event that does not parse reports nothing
			d := ev.ExceptionDetails
			out = append(out, fmt.Sprintf("exception: %s %s (%s)", d.Text, d.Exception.Description, d.URL))
		case "Runtime.consoleAPICalled":
			var ev struct {
				Type string            `json:"type"`
				Args []json.RawMessage `json:"args"`
			}
			_ = json.Unmarshal(m.Params, &ev) // an event that does not parse reports nothing
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
			_ = json.Unmarshal(m.Params, &ev) // an event that does not parse reports nothing
			if e := ev.Entry; e.Level == "error" {
				out = append(out, fmt.Sprintf("%s: %s (%s)", e.Source, e.Text, e.URL))
			}
		}
	}
	return out
}
