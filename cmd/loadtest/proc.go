package main

import (
	"bufio"
	"bytes"
	"fmt"
	"os"
	"strconv"
	"strings"
	"time"
)

// mem is a process's resident memory, in bytes.
type mem struct {
	rss int64 // VmRSS: now
	hwm int64 // VmHWM: the peak since start or since resetPeak
	ok  bool
}

// peakMem is the server's memory during the storm.
type peakMem struct {
	maxRSS int64 // the highest VmRSS sampled every 10ms
	hwm    int64 // VmHWM at the end
	reset  bool  // VmHWM was reset just before the storm
}

// readMem reads VmRSS and VmHWM from /proc/<pid>/status.
func readMem(pid int) mem {
	if pid <= 0 {
		return mem{}
	}
	b, err := os.ReadFile(fmt.Sprintf("/proc/%d/status", pid))
	if err != nil {
		return mem{}
	}
	var m mem
	sc := bufio.NewScanner(bytes.NewReader(b))
	for sc.Scan() {
		name, val, ok := strings.Cut(sc.Text(), ":")
		if !ok {
			continue
		}
		var dst *int64
		switch name {
		case "VmRSS":
			dst = &m.rss
		case "VmHWM":
			dst = &m.hwm
		default:
			continue
		}
		kb, err := strconv.ParseInt(strings.TrimSpace(strings.TrimSuffix(strings.TrimSpace(val), "kB")), 10, 64)
		if err != nil {
			return mem{}
		}
		*dst = kb << 10
		m.ok = true
	}
	return m
}

// resetPeak resets the process's VmHWM to its current RSS
// (Documentation/filesystems/proc.rst, clear_refs "5"), so that the peak
// read afterwards is the peak of what follows.
func resetPeak(pid int) error {
	if pid <= 0 {
		return fmt.Errorf("no pid")
	}
	return os.WriteFile(fmt.Sprintf("/proc/%d/clear_refs", pid), []byte("5"), 0)
}

// cpuModel is the first "model name" of /proc/cpuinfo.
func cpuModel() string {
	b, err := os.ReadFile("/proc/cpuinfo")
	if err != nil {
		return "unknown CPU"
	}
	for line := range strings.Lines(string(b)) {
		if name, val, ok := strings.Cut(line, ":"); ok && strings.TrimSpace(name) == "model name" {
			return strings.TrimSpace(val)
		}
	}
	return "unknown CPU"
}

func kernel() string {
	b, err := os.ReadFile("/proc/sys/kernel/osrelease")
	if err != nil {
		return "unknown"
	}
	return strings.TrimSpace(string(b))
}

func mib(n int64) string { return fmt.Sprintf("%.1f MiB", float64(n)/(1<<20)) }

func mb(n int64) string { return fmt.Sprintf("%.1f MB", float64(n)/1e6) }

// loadAvg is /proc/loadavg's 1-, 5- and 15-minute load averages: other
// work on the machine shows there.
func loadAvg() string {
	b, err := os.ReadFile("/proc/loadavg")
	if err != nil {
		return "unknown"
	}
	f := strings.Fields(string(b))
	if len(f) < 3 {
		return "unknown"
	}
	return strings.Join(f[:3], " ")
}

// cpuTicks is CPU time in clock ticks (USER_HZ, 100 a second on Linux).
const ticksPerSecond = 100

// cpuSample is a moment's CPU counters: the machine's, the server's and
// this process's.
type cpuSample struct {
	at           time.Time
	busy, idle   int64 // all CPUs: user+nice+system+irq+softirq, idle+iowait
	steal        int64
	server, self int64 // utime+stime
	ok           bool
}

func sampleCPU(pid int) cpuSample {
	s := cpuSample{at: time.Now()}
	b, err := os.ReadFile("/proc/stat")
	if err != nil {
		return s
	}
	line, _, _ := strings.Cut(string(b), "\n")
	f := strings.Fields(line)
	if len(f) < 9 || f[0] != "cpu" {
		return s
	}
	n := make([]int64, len(f))
	for i := 1; i < len(f); i++ {
		n[i], _ = strconv.ParseInt(f[i], 10, 64)
	}
	s.busy = n[1] + n[2] + n[3] + n[6] + n[7]
	s.idle = n[4] + n[5]
	s.steal = n[8]
	s.self = procCPU(os.Getpid())
	if pid > 0 && pid != os.Getpid() {
		s.server = procCPU(pid)
	}
	s.ok = true
	return s
}

// procCPU is utime+stime of a process, from /proc/<pid>/stat.
func procCPU(pid int) int64 {
	b, err := os.ReadFile(fmt.Sprintf("/proc/%d/stat", pid))
	if err != nil {
		return 0
	}
	i := bytes.LastIndexByte(b, ')')
	if i < 0 {
		return 0
	}
	f := strings.Fields(string(b[i+1:]))
	if len(f) < 13 {
		return 0
	}
	u, _ := strconv.ParseInt(f[11], 10, 64)
	s, _ := strconv.ParseInt(f[12], 10, 64)
	return u + s
}

// cpuUse is where the machine's CPU time went between two samples, in
// CPUs (1.0 is one CPU busy the whole time).
type cpuUse struct {
	server, client, other, idle, steal float64
	inProcess                          bool // server and client are one process
	ok                                 bool
}

func cpuBetween(a, b cpuSample, inProcess bool) cpuUse {
	secs := b.at.Sub(a.at).Seconds()
	if !a.ok || !b.ok || secs <= 0 {
		return cpuUse{}
	}
	per := func(t int64) float64 { return float64(t) / ticksPerSecond / secs }
	u := cpuUse{
		server:    per(b.server - a.server),
		client:    per(b.self - a.self),
		idle:      per(b.idle - a.idle),
		steal:     per(b.steal - a.steal),
		inProcess: inProcess,
		ok:        true,
	}
	u.other = max(0, per(b.busy-a.busy)-u.server-u.client)
	return u
}
