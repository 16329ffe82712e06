package main

import (
	"fmt"
	"io"
	"maps"
	"runtime"
	"slices"
	"strings"
	"text/tabwriter"
	"time"
)

// The targets, from the issue.
const (
	meMinRPS        = 16000
	meOfHealthz     = 0.80
	loginOfHash     = 0.90
	refreshMinRPS   = 2400
	rssAfterRuns    = 40e6      // bytes: 40 MB
	rssDuringStorm  = 150 << 20 // bytes: 150 MiB
	refreshClientsN = 8
)

// report gathers the results to print.
type report struct {
	results    []*result
	byName     map[string]*result
	hash       hashRate
	atStart    mem // once ready, before any request of this program
	afterRuns  mem
	storm      peakMem
	afterStorm mem
}

func (r *report) add(res *result) {
	if r.byName == nil {
		r.byName = make(map[string]*result)
	}
	r.results = append(r.results, res)
	r.byName[res.name] = res
}

func yesNo(ok bool) string {
	if ok {
		return "yes"
	}
	return "NO"
}

func fmtRPS(v float64) string {
	if v < 100 {
		return fmt.Sprintf("%.1f", v)
	}
	return fmt.Sprintf("%.0f", v)
}

func fmtDur(d time.Duration) string {
	switch {
	case d <= 0:
		return "-"
	case d < time.Millisecond:
		return fmt.Sprintf("%.0fµs", float64(d)/float64(time.Microsecond))
	case d < 10*time.Millisecond:
		return fmt.Sprintf("%.2fms", float64(d)/float64(time.Millisecond))
	case d < time.Second:
		return fmt.Sprintf("%.0fms", float64(d)/float64(time.Millisecond))
	default:
		return fmt.Sprintf("%.2fs", d.Seconds())
	}
}

// judge returns the target text and whether r meets it.
func (r *report) judge(res *result, o options) (string, string) {
	clean := res.errs == 0 && res.ok > 0
	switch res.name {
	case "GET /healthz":
		return "baseline", "-"
	case "GET /v1/me":
		hz := r.byName["GET /healthz"]
		want := float64(meMinRPS)
		if hz != nil {
			want = max(want, meOfHealthz*hz.rps())
		}
		pct := ""
		if hz != nil && hz.rps() > 0 {
			pct = fmt.Sprintf(" (now %.0f%% of healthz)", 100*res.rps()/hz.rps())
		}
		return fmt.Sprintf("≥ %s: 16,000 and 80%% of healthz%s", fmtRPS(want), pct), yesNo(clean && res.rps() >= want)
	case "POST /v1/auth/login":
		base := r.hash.target()
		if base == 0 {
			return "90% of CPUs ÷ hash time (not timed)", "?"
		}
		want := loginOfHash * base
		return fmt.Sprintf("≥ %s: 90%% of %d CPUs ÷ %s (now %.0f%%)", fmtRPS(want), r.hash.cpus, fmtDur(r.hash.one), 100*res.rps()/base),
			yesNo(clean && res.rps() >= want)
	case "POST /v1/auth/refresh":
		note := ""
		if o.refreshClients != refreshClientsN {
			note = fmt.Sprintf(" (with %d clients)", refreshClientsN)
		}
		return fmt.Sprintf("≥ %d%s", refreshMinRPS, note), yesNo(clean && res.rps() >= refreshMinRPS)
	case "login storm (at once)":
		return "no 5xx, every login answered", yesNo(clean && res.err5xx == 0)
	}
	return "", ""
}

func (r *report) print(w io.Writer, o options) {
	tw := tabwriter.NewWriter(w, 0, 0, 2, ' ', 0)
	fmt.Fprintln(tw, "test\tclients\trequests\trps\tp50\tp99\terrors\ttarget\tmet?")
	for _, res := range r.results {
		if res.name == "POST /v1/auth/login" && r.hash.one > 0 {
			// Timed in this process, around the logins.
			fmt.Fprintf(tw, "argon2id, one at a time\t1\t-\t%s\t%s\t-\t-\tbaseline: %d CPUs ÷ %s = %s/s\t-\n",
				fmtRPS(1/r.hash.one.Seconds()), fmtDur(r.hash.one), r.hash.cpus, fmtDur(r.hash.one), fmtRPS(r.hash.target()))
			fmt.Fprintf(tw, "argon2id, one per CPU at once\t%d\t-\t%s\t-\t-\t-\t(what the CPUs deliver together)\t-\n",
				r.hash.cpus, fmtRPS(r.hash.parallel))
		}
		target, met := r.judge(res, o)
		errs := fmt.Sprint(res.errs)
		if res.err5xx > 0 {
			errs += fmt.Sprintf(" (%d 5xx)", res.err5xx)
		}
		rps := fmtRPS(res.rps())
		if res.name == "login storm (at once)" {
			rps += fmt.Sprintf(" (all in %s)", fmtDur(res.elapsed))
		}
		fmt.Fprintf(tw, "%s\t%d\t%d\t%s\t%s\t%s\t%s\t%s\t%s\n", res.name, res.clients, res.requests(), rps,
			fmtDur(res.percentile(50)), fmtDur(res.percentile(99)), errs, target, met)
	}
	tw.Flush()
	met, total := 0, 0
	count := func(ok bool) {
		total++
		if ok {
			met++
		}
	}
	for _, res := range r.results {
		if _, m := r.judge(res, o); m == "yes" || m == "NO" {
			count(m == "yes")
		}
	}
	for _, res := range r.results {
		if len(res.errKinds) == 0 {
			continue
		}
		var parts []string
		for _, k := range slices.Sorted(maps.Keys(res.errKinds)) {
			parts = append(parts, fmt.Sprintf("%d × %s", res.errKinds[k], k))
		}
		fmt.Fprintf(w, "errors in %s: %s\n", res.name, strings.Join(parts, ", "))
	}
	if login := r.byName["POST /v1/auth/login"]; login != nil && r.hash.parallel > 0 {
		fmt.Fprintf(w, "login rps is %.0f%% of the hash rate the CPUs deliver together (%s/s)\n",
			100*login.rps()/r.hash.parallel, fmtRPS(r.hash.parallel))
	}

	r.printCPU(w)

	fmt.Fprintln(w)
	if r.atStart.ok {
		fmt.Fprintf(w, "server RSS when ready, before the tests: %s (%s)\n", mib(r.atStart.rss), mb(r.atStart.rss))
	}
	if r.afterRuns.ok {
		ok := r.afterRuns.rss <= rssAfterRuns
		count(ok)
		fmt.Fprintf(w, "server RSS after healthz, me, login, refresh: %s (%s); target ≤ 40 MB: %s\n",
			mib(r.afterRuns.rss), mb(r.afterRuns.rss), yesNo(ok))
		fmt.Fprintf(w, "server peak RSS so far (VmHWM): %s\n", mib(r.afterRuns.hwm))
	} else {
		fmt.Fprintln(w, "server RSS: unknown (no pid: give -pid, or use -spawn)")
	}
	if r.storm.maxRSS > 0 {
		// VmHWM counts only when it was reset before the storm;
		// otherwise it may be a peak from an earlier test.
		peak, how := max(r.storm.maxRSS, r.storm.hwm), "VmHWM, reset before the storm"
		if !r.storm.reset {
			peak, how = r.storm.maxRSS, "VmHWM could not be reset, so not counted"
		}
		ok := peak <= rssDuringStorm
		count(ok)
		fmt.Fprintf(w, "server peak RSS during the storm of %d logins: %s (%s; highest VmRSS sampled every 10ms: %s); target ≤ 150 MiB: %s\n",
			o.storm, mib(peak), how, mib(r.storm.maxRSS), yesNo(ok))
	}
	if r.afterStorm.ok {
		fmt.Fprintf(w, "server RSS after the storm: %s\n", mib(r.afterStorm.rss))
	}
	fmt.Fprintf(w, "\ntargets met: %d of %d\n", met, total)
}

// printCPU says where the machine's CPU time went during each test, so
// that a run disturbed by other work shows it, and what one answer cost
// the server in CPU time, a figure other work disturbs less than rps.
func (r *report) printCPU(w io.Writer) {
	if len(r.results) == 0 || !r.results[0].cpu.ok {
		return
	}
	fmt.Fprintf(w, "\nCPU time during each test, in CPUs busy (of %d), and per 2xx answer:\n", runtime.NumCPU())
	tw := tabwriter.NewWriter(w, 0, 0, 2, ' ', 0)
	fmt.Fprintln(tw, "test\tserver\tthis client\tother processes\tidle\tsteal\tserver CPU per answer")
	for _, res := range r.results {
		c := res.cpu
		if !c.ok {
			continue
		}
		server, client, per := fmt.Sprintf("%.2f", c.server), fmt.Sprintf("%.2f", c.client), "-"
		if c.inProcess {
			server, client = "(in client)", fmt.Sprintf("%.2f both", c.client)
		} else if res.ok > 0 {
			per = fmtDur(time.Duration(c.server * res.elapsed.Seconds() / float64(res.ok) * float64(time.Second)))
		}
		fmt.Fprintf(tw, "%s\t%s\t%s\t%.2f\t%.2f\t%.2f\t%s\n", res.name, server, client, c.other, c.idle, c.steal, per)
	}
	tw.Flush()
}
