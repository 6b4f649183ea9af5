package server

import (
	"errors"
	"log/slog"
	"mime/multipart"
	"net/http"
	"strconv"

	"github.com/pocketbase/dbx"
	"github.com/purplebook/purplebook/app/apperr"
	"github.com/purplebook/purplebook/app/audit"
	"github.com/purplebook/purplebook/app/bundle"
	"github.com/purplebook/purplebook/app/bundle/librarybundle"
	"github.com/purplebook/purplebook/app/bundle/missionbundle"
	"github.com/purplebook/purplebook/app/db"
	"github.com/uptrace/bunrouter"
)

// BundleContentType is the media type of a .pbz bundle (a zip).
const BundleContentType = "application/vnd.purplebook.bundle+zip"

// exportMissionBundle streams a mission bundle: ?evidence= and ?blue=
// (both default true) leave evidence or blue-team data out. Everything
// that can fail before the first byte (access, a missing evidence file)
// is a normal error; a failure while streaming cuts the download, and the
// truncated file is refused by any importer.
// exportLibraryBundle streams a library bundle: every live test template
// and scenario template the caller may read (test_template.read,
// scenario_template.read), the detection levels and the security controls.
func (s *Server) exportLibraryBundle(w http.ResponseWriter, req bunrouter.Request) error {
	c := caller(req)
	opts := librarybundle.ExportOptions{Templates: c.Can("test_template.read")}
	opts.Scenarios = opts.Templates && c.Can("scenario_template.read")
	h := w.Header()
	h.Set("Content-Type", BundleContentType)
	h.Set("Content-Disposition", contentDisposition("attachment", s.opts.Library.Filename()))
	h.Set("Cache-Control", "private, no-store")
	h.Set("X-Content-Type-Options", "nosniff")
	w.WriteHeader(http.StatusOK)
	if _, err := s.opts.Library.WriteTo(req.Context(), w, opts); err != nil {
		slog.ErrorContext(req.Context(), "library_bundle_export_failed", "err", err)
		panic(http.ErrAbortHandler)
	}
	return nil
}

func (s *Server) exportMissionBundle(w http.ResponseWriter, req bunrouter.Request) error {
	opts := missionbundle.ExportOptions{Evidence: true, Blue: true}
	for name, dst := range map[string]*bool{"evidence": &opts.Evidence, "blue": &opts.Blue} {
		v, err := queryBool(req, name)
		if err != nil {
			return err
		}
		if v != nil {
			*dst = *v
		}
	}
	x, err := s.opts.Bundles.Prepare(req.Context(), caller(req), req.Param("id"), opts)
	if err != nil {
		return err
	}
	h := w.Header()
	h.Set("Content-Type", BundleContentType)
	h.Set("Content-Disposition", contentDisposition("attachment", x.Filename))
	h.Set("Cache-Control", "private, no-store")
	h.Set("X-Content-Type-Options", "nosniff")
	h.Set("X-Bundle-Estimated-Size", strconv.FormatInt(x.Estimate, 10))
	w.WriteHeader(http.StatusOK)
	if err := x.WriteTo(req.Context(), w, nil); err != nil {
		slog.ErrorContext(req.Context(), "bundle_export_failed", "mission_id", req.Param("id"), "err", err)
		// The status is sent: abort the connection so the client sees an
		// incomplete download, not a short but well-formed-looking file.
		panic(http.ErrAbortHandler)
	}
	return nil
}

// importFor finds the caller's pending import named in the path.
func (s *Server) importFor(req bunrouter.Request) (*bundle.Import, error) {
	if s.opts.Imports == nil {
		return nil, apperr.New(apperr.ErrUnavailable, "imports_unavailable", "Bundle imports are not available on this server.")
	}
	return s.opts.Imports.Get(req.Param("import_id"), principal(req).UserID)
}

// uploadBundle takes multipart/form-data with the bundle in a "file" part,
// streams it into the staging area, verifies it (structure, signature,
// every entry's size and sha256, the documents) and answers the dry-run
// report with the import id. A refused bundle leaves nothing behind.
func (s *Server) uploadBundle(w http.ResponseWriter, req bunrouter.Request) error {
	if s.opts.Imports == nil {
		return apperr.New(apperr.ErrUnavailable, "imports_unavailable", "Bundle imports are not available on this server.")
	}
	if !isMultipart(req) {
		return apperr.BadRequest("unsupported_media_type", `Send the bundle as multipart/form-data with the file in a "file" part.`)
	}
	c := caller(req)
	if !c.Can("bundle.import") {
		return apperr.New(apperr.ErrForbidden, "forbidden", "You need the %q permission to do this.", "bundle.import")
	}
	var imp *bundle.Import
	err := eachPart(req, func(part *multipart.Part) error {
		if part.FormName() != "file" || imp != nil {
			return apperr.BadRequest("unknown_field", `Send exactly one "file" part holding the bundle.`)
		}
		var err error
		imp, err = s.opts.Imports.Receive(req.Context(), c.UserID, part, bundle.DefaultImportBytes+32<<20)
		var re *bundle.ReadError
		if errors.As(err, &re) {
			return multipartError(re.Err)
		}
		return err
	})
	if err != nil {
		if imp != nil {
			s.opts.Imports.Discard(imp)
		}
		return err
	}
	if imp == nil {
		return &apperr.Invalid{Message: `Attach the bundle as the "file" part.`, Fields: map[string]string{"file": "is required"}}
	}
	rep, err := s.planImport(req, imp)
	if err != nil {
		s.opts.Imports.Discard(imp)
		return err
	}
	return writeJSON(w, http.StatusCreated, rep)
}

func (s *Server) planImport(req bunrouter.Request, imp *bundle.Import) (any, error) {
	switch k := imp.Reader().Manifest().Kind; k {
	case bundle.KindMission:
		return s.opts.Bundles.Plan(req.Context(), caller(req), imp, nil, nil)
	case bundle.KindLibrary:
		return s.opts.Library.Plan(req.Context(), caller(req), imp)
	default:
		return nil, bundle.Invalid("bundle_kind_unsupported", "", "Importing %s bundles is not supported here yet.", k)
	}
}

// getBundleImport answers the dry-run report again (the import page after
// a reload).
func (s *Server) getBundleImport(w http.ResponseWriter, req bunrouter.Request) error {
	imp, err := s.importFor(req)
	if err != nil {
		return err
	}
	rep, err := s.planImport(req, imp)
	if err != nil {
		return err
	}
	return writeJSON(w, http.StatusOK, rep)
}

// applyBundle applies a staged import: {accept_untrusted, users:[{email,
// action, user_id}]}. On success the staging is removed; on failure it
// stays for another try until it expires.
func (s *Server) applyBundle(w http.ResponseWriter, req bunrouter.Request) error {
	imp, err := s.importFor(req)
	if err != nil {
		return err
	}
	var p missionbundle.ApplyParams
	if err := decodeJSON(req, &p); err != nil {
		return err
	}
	var rep any
	switch k := imp.Reader().Manifest().Kind; k {
	case bundle.KindMission:
		rep, err = s.opts.Bundles.Apply(req.Context(), caller(req), imp, p)
	case bundle.KindLibrary:
		rep, err = s.opts.Library.Apply(req.Context(), caller(req), imp, p.AcceptUntrusted)
	default:
		return bundle.Invalid("bundle_kind_unsupported", "", "Importing %s bundles is not supported here.", k)
	}
	if err != nil {
		return err
	}
	s.opts.Imports.Discard(imp)
	return writeJSON(w, http.StatusOK, rep)
}

func (s *Server) discardBundle(w http.ResponseWriter, req bunrouter.Request) error {
	imp, err := s.importFor(req)
	if err != nil {
		return err
	}
	s.opts.Imports.Discard(imp)
	w.WriteHeader(http.StatusNoContent)
	return nil
}

// conflictList is a mission's merge conflicts and how many are open.
type conflictList struct {
	Items []missionbundle.Conflict `json:"items"`
	Open  int                      `json:"open"`
}

type choiceRequest struct {
	Choice string `json:"choice"`
}

type trustedKeyList struct {
	Items []bundle.TrustedKey `json:"items"`
}

type trustedKeyRequest struct {
	PublicKey  string `json:"public_key"`
	Label      string `json:"label"`
	InstanceID string `json:"instance_id"`
}

type instanceRequest struct {
	Name string `json:"name"`
}

func (s *Server) listConflicts(w http.ResponseWriter, req bunrouter.Request) error {
	list, err := s.opts.Bundles.Conflicts(req.Context(), caller(req), req.Param("id"))
	if err != nil {
		return err
	}
	open := 0
	for _, c := range list {
		if c.ResolvedAt == nil {
			open++
		}
	}
	if list == nil {
		list = []missionbundle.Conflict{}
	}
	return writeJSON(w, http.StatusOK, conflictList{Items: list, Open: open})
}

func (s *Server) resolveConflict(w http.ResponseWriter, req bunrouter.Request) error {
	var in choiceRequest
	if err := decodeJSON(req, &in); err != nil {
		return err
	}
	c, err := s.opts.Bundles.Resolve(req.Context(), caller(req), req.Param("id"), req.Param("cid"), in.Choice)
	if err != nil {
		return err
	}
	return writeJSON(w, http.StatusOK, c)
}

func (s *Server) listTrustedKeys(w http.ResponseWriter, req bunrouter.Request) error {
	keys, err := bundle.TrustedKeys(req.Context(), s.opts.DB.Read)
	if err != nil {
		return err
	}
	if keys == nil {
		keys = []bundle.TrustedKey{}
	}
	return writeJSON(w, http.StatusOK, trustedKeyList{Items: keys})
}

// addTrustedKey trusts a public key: {public_key, label, instance_id}.
func (s *Server) addTrustedKey(w http.ResponseWriter, req bunrouter.Request) error {
	var in trustedKeyRequest
	if err := decodeJSON(req, &in); err != nil {
		return err
	}
	p := principal(req)
	actor := p.Actor(meta(req))
	now := db.NewTime(s.opts.Now())
	var out bundle.TrustedKey
	err := s.opts.DB.Tx(req.Context(), func(tx *dbx.Tx) error {
		k, changed, err := bundle.AddTrustedKey(req.Context(), tx, in.PublicKey, in.Label, in.InstanceID, actor.Label, now)
		if err != nil {
			return err
		}
		out = k
		if !changed {
			return nil
		}
		return audit.Record(req.Context(), tx, now, actor, audit.Event{Action: "bundle.key_trust", ObjectType: "setting",
			ObjectID: bundle.SettingTrustedKeys, Details: map[string]any{"fingerprint": k.Fingerprint, "label": k.Label}})
	})
	if err != nil {
		return err
	}
	return writeJSON(w, http.StatusCreated, out)
}

// removeTrustedKey stops trusting the key ?fingerprint=SHA256:….
func (s *Server) removeTrustedKey(w http.ResponseWriter, req bunrouter.Request) error {
	fp, err := queryString(req, "fingerprint")
	if err != nil {
		return err
	}
	if fp == "" {
		return badQuery("fingerprint", "is required")
	}
	actor := principal(req).Actor(meta(req))
	now := db.NewTime(s.opts.Now())
	err = s.opts.DB.Tx(req.Context(), func(tx *dbx.Tx) error {
		k, err := bundle.RemoveTrustedKey(req.Context(), tx, fp, now)
		if err != nil {
			return err
		}
		return audit.Record(req.Context(), tx, now, actor, audit.Event{Action: "bundle.key_untrust", ObjectType: "setting",
			ObjectID: bundle.SettingTrustedKeys, Details: map[string]any{"fingerprint": k.Fingerprint, "label": k.Label}})
	})
	if err != nil {
		return err
	}
	w.WriteHeader(http.StatusNoContent)
	return nil
}

type instanceView struct {
	ID          string `json:"id"`
	Name        string `json:"name"`
	PublicKey   string `json:"public_key"`
	Fingerprint string `json:"fingerprint"`
}

func (s *Server) instanceView() instanceView {
	id := s.opts.Identity
	return instanceView{ID: id.ID(), Name: id.Name(), PublicKey: bundle.EncodePublicKey(id.Public()), Fingerprint: id.Fingerprint()}
}

// getInstance names this instance: what its bundles say they come from,
// and the key fingerprint peers compare before trusting it.
func (s *Server) getInstance(w http.ResponseWriter, req bunrouter.Request) error {
	return writeJSON(w, http.StatusOK, s.instanceView())
}

// patchInstance renames the instance: {name}.
func (s *Server) patchInstance(w http.ResponseWriter, req bunrouter.Request) error {
	var in instanceRequest
	if err := decodeJSON(req, &in); err != nil {
		return err
	}
	actor := principal(req).Actor(meta(req))
	now := db.NewTime(s.opts.Now())
	before := s.opts.Identity.Name()
	err := s.opts.DB.Tx(req.Context(), func(tx *dbx.Tx) error {
		name, err := s.opts.Identity.Rename(req.Context(), tx, in.Name, now)
		if err != nil {
			return err
		}
		return audit.Record(req.Context(), tx, now, actor, audit.Event{Action: "instance.rename", ObjectType: "instance",
			ObjectID: s.opts.Identity.ID(), Details: map[string]any{"name": map[string]any{"before": before, "after": name}}})
	})
	if err != nil {
		return err
	}
	return writeJSON(w, http.StatusOK, s.instanceView())
}
