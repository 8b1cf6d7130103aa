package controlplane

import (
	"errors"
	"os"
	"os/exec"
	"runtime"
)

// canOpenBrowser reports whether the in-process login may open the system
// browser: a person is at a terminal and there is a screen to show it on.
// It is a variable so that tests can decide.
var canOpenBrowser = func() bool {
	return stdinIsTerminal() && hasDisplay()
}

// stdinIsTerminal reports whether standard input is a character device other
// than the null device (which a service or cron job is often given).
func stdinIsTerminal() bool {
	in, err := os.Stdin.Stat()
	if err != nil || in.Mode()&os.ModeCharDevice == 0 {
		return false
	}
	null, err := os.Stat(os.DevNull)
	return err != nil || !os.SameFile(in, null)
}

// hasDisplay reports whether a browser can be shown: always on macOS and
// Windows, with an X11 or Wayland display and xdg-open elsewhere.
func hasDisplay() bool {
	switch runtime.GOOS {
	case "darwin", "windows":
		return true
	}
	if os.Getenv("DISPLAY") == "" && os.Getenv("WAYLAND_DISPLAY") == "" {
		return false
	}
	_, err := exec.LookPath("xdg-open")
	return err == nil
}

// openBrowser opens url in the system browser, printing nothing.
func openBrowser(url string) error {
	var cmd *exec.Cmd
	switch runtime.GOOS {
	case "darwin":
		cmd = exec.Command("open", url)
	case "windows":
		cmd = exec.Command("rundll32", "url.dll,FileProtocolHandler", url)
	default:
		if _, err := exec.LookPath("xdg-open"); err != nil {
			return errors.New("no xdg-open to open a browser with")
		}
		cmd = exec.Command("xdg-open", url)
	}
	return cmd.Run()
}
