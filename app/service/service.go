// Package service runs a func(ctx) error under the OS service manager
// (systemd, Windows service control manager, launchd) or, interactively, until
// Ctrl-C / SIGTERM, and installs and controls purplebook as an OS service.
// It knows only kardianos/service and that function.
package service

import (
	"context"
	"errors"
	"log/slog"
	"os"
	"os/signal"
	"runtime"
	"sync"
	"syscall"
	"time"

	"github.com/kardianos/service"
)

// Name is the service name registered with the OS.
const Name = "purplebook"

// stopTimeout bounds how long Stop waits for fn to return after its context
// is cancelled; the HTTP server's own graceful shutdown takes at most 10 s.
const stopTimeout = 15 * time.Second

// Interactive reports whether we run from a terminal rather than under a
// service manager.
func Interactive() bool { return service.Interactive() }

// Platform names the service manager kardianos detected, e.g. linux-systemd.
func Platform() string { return service.Platform() }

type program struct {
	run  func(ctx context.Context) error
	exit func(code int) // os.Exit; replaced in tests

	mu     sync.Mutex
	cancel context.CancelFunc
	done   chan struct{} // closed when run has returned
	err    error         // run's error when it failed on its own
}

func (p *program) Start(service.Service) error {
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan struct{})
	p.mu.Lock()
	p.cancel, p.done = cancel, done
	p.mu.Unlock()
	go func() {
		defer close(done)
		err := p.run(ctx)
		if err == nil || ctx.Err() != nil {
			return
		}
		slog.Error("server_failed", "err", err)
		p.mu.Lock()
		p.err = err
		p.mu.Unlock()
		if runtime.GOOS == "windows" {
			// The Windows service loop only ends on a stop request: exit so the
			// service manager's recovery action (restart) applies.
			p.exit(1)
		}
		// Elsewhere waitForStop returns once done is closed, Run returns the
		// error, and the service manager sees a failed exit.
	}()
	return nil // never block
}

func (p *program) Stop(service.Service) error {
	p.mu.Lock()
	cancel, done := p.cancel, p.done
	p.mu.Unlock()
	if cancel == nil {
		return nil
	}
	cancel()
	select {
	case <-done:
	case <-time.After(stopTimeout):
		slog.Warn("shutdown_timeout", "waited", stopTimeout.String())
	}
	return nil
}

// failed returns the error fn ended with on its own, if any.
func (p *program) failed() error {
	p.mu.Lock()
	defer p.mu.Unlock()
	return p.err
}

// waitForStop is the POSIX RunWait: it returns on SIGTERM/SIGINT, as
// kardianos's default does, and also when fn has ended on its own.
func (p *program) waitForStop() {
	sig := make(chan os.Signal, 3)
	signal.Notify(sig, syscall.SIGTERM, os.Interrupt)
	defer signal.Stop(sig)
	p.mu.Lock()
	done := p.done
	p.mu.Unlock()
	select {
	case <-sig:
	case <-done:
	}
}

// Run runs fn until the process is asked to stop. Interactive runs (and
// cfg == nil) stop on SIGINT/SIGTERM; under a service manager the manager's
// stop request cancels the context. The error is fn's.
func Run(ctx context.Context, cfg *service.Config, fn func(ctx context.Context) error) error {
	if Interactive() || cfg == nil {
		ctx, stop := signal.NotifyContext(ctx, os.Interrupt, syscall.SIGTERM)
		defer stop()
		return fn(ctx)
	}
	p := &program{exit: os.Exit, run: func(c context.Context) error {
		merged, cancel := context.WithCancel(c)
		defer cancel()
		go func() {
			select {
			case <-ctx.Done():
				cancel()
			case <-merged.Done():
			}
		}()
		return fn(merged)
	}}
	c := *cfg
	c.Option = service.KeyValue{}
	for k, v := range cfg.Option {
		c.Option[k] = v
	}
	c.Option["RunWait"] = p.waitForStop
	s, err := service.New(p, &c)
	if err != nil {
		return err
	}
	// The Windows SCM discards stdout/stderr: send the logs to the event log
	// unless the caller's logging setup already does.
	if h, ok := systemLogHandler(slog.Default().Handler()); ok {
		slog.SetDefault(slog.New(h))
	}
	if err := s.Run(); err != nil && !errors.Is(err, context.Canceled) {
		return err
	}
	return p.failed()
}

// Config returns the runtime service definition for purplebook with the given
// arguments. Arguments apply only at install; see [Install.Config] for the
// full definition used there.
func Config(args []string) *service.Config {
	return &service.Config{
		Name:        Name,
		DisplayName: "Purplebook",
		Description: "Purplebook purple-team engagement tracker",
		Arguments:   args,
	}
}
