package server

import (
	"errors"
	"net/http"

	"github.com/purplebook/purplebook/app/apperr"
)

// apiError is the body of every error answer:
// {"error":{"code","message","details"},"request_id"}.
type apiError struct {
	Status  int            `json:"-"`
	Code    string         `json:"code"`
	Message string         `json:"message"`
	Details map[string]any `json:"details"`
}

type envelope struct {
	Error     apiError `json:"error"`
	RequestID string   `json:"request_id,omitempty"`
}

// classify maps an error to a status and a message that is safe to show.
// Unknown errors are 500 "internal": their text never reaches the client.
func classify(err error) apiError {
	var inv *apperr.Invalid
	if errors.As(err, &inv) {
		details := map[string]any{}
		for k, v := range inv.Fields {
			details[k] = v
		}
		msg := inv.Message
		if msg == "" {
			msg = "Some fields are invalid."
		}
		return apiError{Status: http.StatusUnprocessableEntity, Code: "validation_failed", Message: msg, Details: details}
	}
	var mbe *http.MaxBytesError
	if errors.As(err, &mbe) {
		return apiError{Status: http.StatusRequestEntityTooLarge, Code: "too_large",
			Message: "The request body is too large.", Details: map[string]any{"limit_bytes": mbe.Limit}}
	}
	var ra *apperr.RetryAfter
	if errors.As(err, &ra) {
		return apiError{Status: http.StatusTooManyRequests, Code: "too_many_requests", Message: ra.Message,
			Details: map[string]any{"retry_after_seconds": ra.Seconds}}
	}
	var ae *apperr.Error
	if errors.As(err, &ae) {
		details := ae.Details
		if details == nil {
			details = map[string]any{}
		}
		return apiError{Status: statusOf(ae.Kind), Code: ae.Code, Message: ae.Message, Details: details}
	}
	status := statusOf(err)
	if status == http.StatusInternalServerError {
		return apiError{Status: status, Code: "internal", Message: "Internal server error. The request id identifies it in the server log.", Details: map[string]any{}}
	}
	code, msg := defaultText(status)
	return apiError{Status: status, Code: code, Message: msg, Details: map[string]any{}}
}

func statusOf(err error) int {
	switch {
	case errors.Is(err, apperr.ErrNotFound):
		return http.StatusNotFound
	case errors.Is(err, apperr.ErrConflict):
		return http.StatusConflict
	case errors.Is(err, apperr.ErrUnauthenticated):
		return http.StatusUnauthorized
	case errors.Is(err, apperr.ErrForbidden):
		return http.StatusForbidden
	case errors.Is(err, apperr.ErrGone):
		return http.StatusGone
	case errors.Is(err, apperr.ErrTooLarge):
		return http.StatusRequestEntityTooLarge
	case errors.Is(err, apperr.ErrTooManyRequests):
		return http.StatusTooManyRequests
	case errors.Is(err, apperr.ErrUnavailable):
		return http.StatusServiceUnavailable
	case errors.Is(err, apperr.ErrBadRequest):
		return http.StatusBadRequest
	case errors.Is(err, apperr.ErrUnprocessable), errors.Is(err, apperr.ErrInvalid):
		return http.StatusUnprocessableEntity
	}
	return http.StatusInternalServerError
}

func defaultText(status int) (string, string) {
	switch status {
	case http.StatusNotFound:
		return "not_found", "Not found."
	case http.StatusConflict:
		return "conflict", "The request conflicts with the current state."
	case http.StatusUnauthorized:
		return "unauthenticated", "Authentication required."
	case http.StatusForbidden:
		return "forbidden", "You do not have permission to do this."
	case http.StatusGone:
		return "gone", "This is no longer available."
	case http.StatusRequestEntityTooLarge:
		return "too_large", "The request body is too large."
	case http.StatusServiceUnavailable:
		return "unavailable", "The service is unavailable."
	case http.StatusBadRequest:
		return "bad_request", "The request is malformed."
	case http.StatusUnprocessableEntity:
		return "unprocessable", "The request cannot be processed."
	}
	return "error", http.StatusText(status)
}
