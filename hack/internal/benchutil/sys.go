package benchutil

import (
	"fmt"
	"net"
	"os"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
)

// FreePorts finds n distinct free TCP ports on every address (a kubelet listens on the node IP, not loopback).
func FreePorts(n int) ([]int, error) {
	var ports []int
	for range n {
		l, err := net.Listen("tcp", "0.0.0.0:0")
		if err != nil {
			return nil, fmt.Errorf("find a free port: %w", err)
		}
		defer l.Close()
		ports = append(ports, l.Addr().(*net.TCPAddr).Port)
	}
	return ports, nil
}

// LoadAvg is the machine's 1, 5 and 15-minute load averages, or "?".
func LoadAvg() string {
	b, _ := os.ReadFile("/proc/loadavg")
	f := strings.Fields(string(b))
	if len(f) < 3 {
		return "?"
	}
	return strings.Join(f[:3], " ")
}

// Load1 is the 1-minute load average, -1 if unknown.
func Load1() float64 {
	b, _ := os.ReadFile("/proc/loadavg")
	f := strings.Fields(string(b))
	if len(f) == 0 {
		return -1
	}
	v, err := strconv.ParseFloat(f[0], 64)
	if err != nil {
		return -1
	}
	return v
}

// StatFields are the fields of /proc/<pid>/stat after the command name (which may hold spaces): state first, so
// that field n of proc(5) is StatFields[n-3] (ppid 1, utime 11, stime 12, cutime 13, cstime 14). Nil if unreadable.
func StatFields(pid int) []string {
	b, err := os.ReadFile(fmt.Sprintf("/proc/%d/stat", pid))
	if err != nil {
		return nil
	}
	s := string(b)
	return strings.Fields(s[strings.LastIndexByte(s, ')')+1:])
}

// Parent is a process's parent pid, 0 if unknown.
func Parent(pid int) int {
	f := StatFields(pid)
	if len(f) < 2 {
		return 0
	}
	ppid, _ := strconv.Atoi(f[1])
	return ppid
}

// Ancestry is this process and its ancestors (go run, make, a shell, the benchmark driver), by pid.
func Ancestry() map[int]bool {
	mine := map[int]bool{}
	for pid := os.Getpid(); pid > 1 && !mine[pid]; pid = Parent(pid) {
		mine[pid] = true
	}
	return mine
}

// OtherProcesses calls fn with the pid and command line of every process other than this one and its ancestors.
func OtherProcesses(fn func(pid int, args []string)) {
	mine := Ancestry()
	entries, _ := os.ReadDir("/proc")
	for _, e := range entries {
		pid, err := strconv.Atoi(e.Name())
		if err != nil || mine[pid] {
			continue
		}
		cmd, err := os.ReadFile(filepath.Join("/proc", e.Name(), "cmdline"))
		if err != nil || len(cmd) == 0 {
			continue
		}
		fn(pid, strings.Split(strings.TrimRight(string(cmd), "\x00"), "\x00"))
	}
}

// Background describes the machine's load average and the other benchmarks running (commands named *perf, *bench
// or *.test that are neither this process nor one of its ancestors), e.g. "load 1.20 0.80 0.50; also running:
// schedperf".
func Background() string {
	var others []string
	OtherProcesses(func(_ int, args []string) {
		name := filepath.Base(args[0])
		bench := strings.HasSuffix(name, "perf") || strings.HasSuffix(name, "bench") || strings.HasSuffix(name, ".test")
		if bench && !slices.Contains(others, name) {
			others = append(others, name)
		}
	})
	if len(others) == 0 {
		return "load " + LoadAvg()
	}
	return fmt.Sprintf("load %s; also running: %s", LoadAvg(), strings.Join(others, ", "))
}
