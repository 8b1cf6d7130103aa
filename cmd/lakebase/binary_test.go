//go:build unix

package main

import (
	"bufio"
	"context"
	"errors"
	"net"
	"os"
	"os/exec"
	"regexp"
	"strings"
	"syscall"
	"testing"
	"time"
)

// buildBinary builds the command into a temporary directory.
func buildBinary(t *testing.T) string {
	t.Helper()
	goTool := program(t, "go", "no go tool to build the command with")
	bin := t.TempDir() + "/lakebase"
	if out, err := exec.Command(goTool, "build", "-o", bin, ".").CombinedOutput(); err != nil {
		t.Fatalf("go build: %v\n%s", err, out)
	}
	return bin
}

// execBinary runs the built command with extra environment and returns
// what it did.
func execBinary(t *testing.T, bin string, env []string, args ...string) result {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	cmd := exec.CommandContext(ctx, bin, args...)
	cmd.Env = append(os.Environ(), env...)
	var stdout, stderr strings.Builder
	cmd.Stdout, cmd.Stderr = &stdout, &stderr
	err := cmd.Run()
	var ee *exec.ExitError
	if err != nil && !errors.As(err, &ee) {
		t.Fatalf("run %v: %v", args, err)
	}
	return result{cmd.ProcessState.ExitCode(), stdout.String(), stderr.String()}
}

// TestBinary builds the command and runs it as a user does: exit codes, the
// DSN from the environment, and a demo stopped by Ctrl-C, which a terminal
// sends to the whole process group, the kit's server included.
func TestBinary(t *testing.T) {
	kit := testKit(t)
	bin := buildBinary(t)

	if r := execBinary(t, bin, nil); r.code != exitUsage {
		t.Errorf("no arguments: want exit 2; got\n%v", r)
	}
	if r := execBinary(t, bin, []string{"LAKEBASE_DSN=" + kit.DSNs().M2M}, "ping"); r.code != exitOK || !strings.Contains(r.stdout, "current_user "+kit.ServicePrincipal.ApplicationID) {
		t.Errorf("ping with LAKEBASE_DSN: want exit 0 and the identity; got\n%v", r)
	}
	if r := execBinary(t, bin, nil, "ping", "instance=no-such-instance workspace="+kit.Workspace.URL()+" auth=pat token=x"); r.code != exitFailure {
		t.Errorf("failing ping: want exit 1; got\n%v", r)
	}

	t.Run("demo interrupted", func(t *testing.T) { interruptDemo(t, bin) })
}

// interruptDemo starts a long demo, sends SIGINT to its process group once
// credentials have rotated, and checks that it ends with a clean summary and
// stops its server.
func interruptDemo(t *testing.T, bin string) {
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
	defer cancel()
	cmd := exec.CommandContext(ctx, bin, "demo", "--duration", "1m", "--lifetime", "2s")
	cmd.SysProcAttr = &syscall.SysProcAttr{Setpgid: true}
	var stderr strings.Builder
	cmd.Stderr = &stderr
	pipe, err := cmd.StdoutPipe()
	if err != nil {
		t.Fatal(err)
	}
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	var out strings.Builder
	progress := 0
	for lines := bufio.NewScanner(pipe); lines.Scan(); {
		line := lines.Text()
		out.WriteString(line + "\n")
		if strings.Contains(line, "  queries ") {
			if progress++; progress == 4 {
				if err := syscall.Kill(-cmd.Process.Pid, syscall.SIGINT); err != nil {
					t.Error(err)
				}
			}
		}
	}
	err = cmd.Wait()
	r := result{cmd.ProcessState.ExitCode(), out.String(), stderr.String()}
	skipWithoutDemoServer(t, r)
	if err != nil || !strings.Contains(r.stdout, "(interrupted)") {
		t.Fatalf("want exit 0 and an interrupted summary; got %v\n%v", err, r)
	}
	checkSummary(t, r)

	m := regexp.MustCompile(`PostgreSQL (127\.0\.0\.1:\d+)`).FindStringSubmatch(r.stdout)
	if m == nil {
		t.Fatalf("the demo did not say where its server listens:\n%v", r)
	}
	if c, err := net.DialTimeout("tcp", m[1], time.Second); err == nil {
		c.Close()
		t.Errorf("the demo's server at %s still accepts connections after the demo ended", m[1])
	}
}
