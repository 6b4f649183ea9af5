package service

import (
	"bytes"
	"context"
	"log/slog"
	"runtime"
	"sync"

	"github.com/kardianos/service"
)

// SystemLogHandler returns h unchanged, except on Windows under the service
// control manager, which discards stdout and stderr: there it returns a
// handler that writes each record to the Windows event log (source
// "purplebook", shown in Event Viewer under Windows Logs > Application) and
// keeps h's level. On Linux the service's stdout goes to the journal, and on
// macOS launchd writes it to /var/log/purplebook.*.log, so h stays as it is.
func SystemLogHandler(h slog.Handler) slog.Handler {
	nh, _ := systemLogHandler(h)
	return nh
}

// systemLogHandler is SystemLogHandler that also reports whether it wrapped h.
func systemLogHandler(h slog.Handler) (slog.Handler, bool) {
	if runtime.GOOS != "windows" || Interactive() {
		return h, false
	}
	if _, ok := h.(*logHandler); ok {
		return h, false
	}
	s, err := service.New(nopProgram{}, Config(nil))
	if err != nil {
		return h, false
	}
	l, err := s.SystemLogger(nil)
	if err != nil {
		return h, false
	}
	return newLogHandler(l, h), true
}

type nopProgram struct{}

func (nopProgram) Start(service.Service) error { return nil }
func (nopProgram) Stop(service.Service) error  { return nil }

// logHandler formats records as text (without time and level, which the
// system log records itself) and sends them to a kardianos Logger as Error,
// Warning or Info. Level filtering is the wrapped handler's.
type logHandler struct {
	out   service.Logger
	level slog.Handler // Enabled only
	text  slog.Handler // writes into sink
	sink  *logSink
}

type logSink struct {
	mu  sync.Mutex
	buf bytes.Buffer
}

func (s *logSink) Write(p []byte) (int, error) { return s.buf.Write(p) }

func newLogHandler(out service.Logger, level slog.Handler) *logHandler {
	sink := &logSink{}
	text := slog.NewTextHandler(sink, &slog.HandlerOptions{
		Level: slog.LevelDebug, // level decides
		ReplaceAttr: func(groups []string, a slog.Attr) slog.Attr {
			if len(groups) == 0 && (a.Key == slog.TimeKey || a.Key == slog.LevelKey) {
				return slog.Attr{}
			}
			return a
		},
	})
	return &logHandler{out: out, level: level, text: text, sink: sink}
}

func (h *logHandler) Enabled(ctx context.Context, l slog.Level) bool {
	return h.level.Enabled(ctx, l)
}

func (h *logHandler) Handle(ctx context.Context, r slog.Record) error {
	h.sink.mu.Lock()
	h.sink.buf.Reset()
	err := h.text.Handle(ctx, r)
	msg := string(bytes.TrimRight(h.sink.buf.Bytes(), "\n"))
	h.sink.mu.Unlock()
	if err != nil {
		return err
	}
	switch {
	case r.Level >= slog.LevelError:
		return h.out.Error(msg)
	case r.Level >= slog.LevelWarn:
		return h.out.Warning(msg)
	default:
		return h.out.Info(msg)
	}
}

func (h *logHandler) WithAttrs(attrs []slog.Attr) slog.Handler {
	c := *h
	c.text = h.text.WithAttrs(attrs)
	c.level = h.level.WithAttrs(attrs)
	return &c
}

func (h *logHandler) WithGroup(name string) slog.Handler {
	c := *h
	c.text = h.text.WithGroup(name)
	c.level = h.level.WithGroup(name)
	return &c
}
