// Package service runs a func(ctx) error under the OS service manager
// (systemd, Windows service control manager, launchd) or, interactively, until
// Ctrl-C / SIGTERM. It knows only kardianos/service and that function.
package service

import (
	"context"
	"errors"
	"log/slog"
	"os"
	"os/signal"
	"syscall"
	"time"

	"github.com/kardianos/service"
)

// Name is the service name registered with the OS.
const Name = "purplebook"

// Interactive reports whether we run from a terminal rather than under a
// service manager.
func Interactive() bool { return service.Interactive() }

type program struct {
	run    func(ctx context.Context) error
	cancel context.CancelFunc
	done   chan struct{}
	err    error
}

func (p *program) Start(service.Service) error {
	ctx, cancel := context.WithCancel(context.Background())
	p.cancel, p.done = cancel, make(chan struct{})
	go func() {
		defer close(p.done)
		if err := p.run(ctx); err != nil && ctx.Err() == nil {
			slog.Error("server_failed", "err", err)
			os.Exit(1) // let the service manager's restart policy act
		}
	}()
	return nil // never block
}

func (p *program) Stop(service.Service) error {
	p.cancel()
	select {
	case <-p.done:
	case <-time.After(15 * time.Second):
		slog.Warn("shutdown_timeout")
	}
	return nil
}

// Run runs fn until the process is asked to stop. Interactive runs stop on
// SIGINT/SIGTERM; under a service manager the manager's stop request cancels
// the context. The error is fn's.
func Run(ctx context.Context, cfg *service.Config, fn func(ctx context.Context) error) error {
	if Interactive() || cfg == nil {
		ctx, stop := signal.NotifyContext(ctx, os.Interrupt, syscall.SIGTERM)
		defer stop()
		return fn(ctx)
	}
	p := &program{run: func(c context.Context) error {
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
	s, err := service.New(p, cfg)
	if err != nil {
		return err
	}
	if err := s.Run(); err != nil && !errors.Is(err, context.Canceled) {
		return err
	}
	return p.err
}

// Config returns the service definition for purplebook with the given
// arguments baked in (they apply only at install).
func Config(args []string) *service.Config {
	return &service.Config{
		Name:        Name,
		DisplayName: "Purplebook",
		Description: "Purplebook purple-team engagement tracker",
		Arguments:   args,
	}
}
