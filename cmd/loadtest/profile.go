package main

import (
	"fmt"
	"io"
	"os"
	"path/filepath"
	"runtime"
	"runtime/pprof"
)

// profiler writes a CPU profile per test into dir; with dir "" it does
// nothing.
type profiler struct {
	dir string
	f   *os.File
}

func (p *profiler) start(name string, stderr io.Writer) {
	if p.dir == "" {
		return
	}
	f, err := os.Create(filepath.Join(p.dir, name+".pprof"))
	if err != nil {
		fmt.Fprintln(stderr, "loadtest: profile:", err)
		return
	}
	if err := pprof.StartCPUProfile(f); err != nil {
		fmt.Fprintln(stderr, "loadtest: profile:", err)
		f.Close()
		return
	}
	p.f = f
}

func (p *profiler) stop() {
	if p.f == nil {
		return
	}
	pprof.StopCPUProfile()
	p.f.Close()
	p.f = nil
}

// heap writes a heap profile (in-use and allocated since start) after a GC.
func (p *profiler) heap(stderr io.Writer) {
	if p.dir == "" {
		return
	}
	runtime.GC()
	f, err := os.Create(filepath.Join(p.dir, "heap.pprof"))
	if err != nil {
		fmt.Fprintln(stderr, "loadtest: profile:", err)
		return
	}
	defer f.Close()
	if err := pprof.Lookup("heap").WriteTo(f, 0); err != nil {
		fmt.Fprintln(stderr, "loadtest: profile:", err)
	}
}
