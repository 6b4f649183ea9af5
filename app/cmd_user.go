package app

import (
	"bufio"
	"context"
	"errors"
	"fmt"
	"io"
	"os"
	"strings"

	"github.com/purplebook/purplebook/app/config"
	"golang.org/x/term"
)

// stdin is replaceable in tests.
var stdin io.Reader = os.Stdin

func runUser(ctx context.Context, e env, args []string) error {
	const help = `Usage: purplebook user <action> [flags]

  create-admin --email E --name N    create an administrator (password from a prompt, or one line on stdin)
  reset-password --email E           set a new password and end the account's sessions

Works on the data directory directly; the server may be running.`
	if len(args) == 0 || args[0] == "-h" || args[0] == "--help" {
		fmt.Fprintln(e.stderr, help)
		if len(args) == 0 {
			return errUsage
		}
		return nil
	}
	action, args := args[0], args[1:]
	fs := config.NewFlagSet("user "+action, help, e.stderr, e.getenv)
	var email, name string
	fs.StringVar(&email, "email", "", "account email")
	if action == "create-admin" {
		fs.StringVar(&name, "name", "", "display name")
	}
	cfg, err := parseFlags(fs, args)
	if err != nil {
		return err
	}
	setupLogging(cfg, e.stderr)
	if email == "" || action == "create-admin" && name == "" {
		fs.Usage()
		return errors.New("--email (and for create-admin --name) are required")
	}
	switch action {
	case "create-admin", "reset-password":
	default:
		return fmt.Errorf("unknown user action %q (create-admin, reset-password)", action)
	}
	pw, err := readPassword(e)
	if err != nil {
		return err
	}
	set, closeSet, err := openServices(ctx, cfg)
	if err != nil {
		return err
	}
	defer closeSet()
	svc := set.Auth
	if action == "create-admin" {
		id, err := svc.CreateAdmin(ctx, email, name, pw)
		if err != nil {
			return err
		}
		fmt.Fprintf(e.stdout, "created administrator %s (%s)\n", email, id)
		return nil
	}
	if err := svc.ResetPassword(ctx, email, pw); err != nil {
		return err
	}
	fmt.Fprintf(e.stdout, "password of %s changed; its sessions were ended\n", email)
	return nil
}

// readPassword prompts twice without echo on a terminal, else reads one line.
func readPassword(e env) (string, error) {
	if f, ok := stdin.(*os.File); ok && term.IsTerminal(int(f.Fd())) {
		fmt.Fprint(e.stderr, "Password: ")
		a, err := term.ReadPassword(int(f.Fd()))
		fmt.Fprintln(e.stderr)
		if err != nil {
			return "", err
		}
		fmt.Fprint(e.stderr, "Repeat password: ")
		b, err := term.ReadPassword(int(f.Fd()))
		fmt.Fprintln(e.stderr)
		if err != nil {
			return "", err
		}
		if string(a) != string(b) {
			return "", errors.New("the passwords differ")
		}
		return string(a), nil
	}
	line, err := bufio.NewReader(stdin).ReadString('\n')
	if err != nil && !errors.Is(err, io.EOF) {
		return "", err
	}
	pw := strings.TrimRight(line, "\r\n")
	if pw == "" {
		return "", errors.New("no password given on stdin")
	}
	return pw, nil
}
