package server

import (
	"net/http"

	"github.com/purplebook/purplebook/app/levels"
	"github.com/uptrace/bunrouter"
)

// Detection levels: everyone signed in reads the vocabulary (the board and
// the blue pane colour by it); changing it is settings.manage.

func (s *Server) levelRoutes() []Route {
	manage := func(m, p string, h bunrouter.HandlerFunc) Route {
		return Route{Method: m, Path: p, Access: Permission, Perm: "settings.manage", h: h}
	}
	return []Route{
		{Method: "GET", Path: "/detection-levels", Access: Authenticated, h: s.listLevels, Summary: "Detection levels by rank", Out: items[levels.Level]{}},
		{Method: "GET", Path: "/detection-levels/:id", Access: Authenticated, h: s.getLevel, Summary: "A detection level", Out: levels.Level{}},
		with(manage("POST", "/detection-levels", s.createLevel), Route{Summary: "Create a detection level", In: levels.CreateParams{}, Out: levels.Level{}, Status: 201}),
		with(manage("PUT", "/detection-levels/order", s.reorderLevels), Route{Summary: "Reorder the levels (best first)", In: levelOrderRequest{}, Out: items[levels.Level]{}}),
		with(manage("PATCH", "/detection-levels/:id", s.updateLevel), Route{Summary: "Change a detection level", In: levels.UpdateParams{}, Out: levels.Level{}}),
		with(manage("DELETE", "/detection-levels/:id", s.deleteLevel), Route{Summary: "Delete an unused level", Status: 204}),
	}
}

func (s *Server) listLevels(w http.ResponseWriter, req bunrouter.Request) error {
	ls, err := s.opts.Levels.List(req.Context())
	if err != nil {
		return err
	}
	return writeJSON(w, http.StatusOK, itemsOf(ls))
}

func (s *Server) getLevel(w http.ResponseWriter, req bunrouter.Request) error {
	l, err := s.opts.Levels.Get(req.Context(), req.Param("id"))
	if err != nil {
		return err
	}
	return writeJSON(w, http.StatusOK, l)
}

func (s *Server) createLevel(w http.ResponseWriter, req bunrouter.Request) error {
	var in levels.CreateParams
	if err := decodeJSON(req, &in); err != nil {
		return err
	}
	l, err := s.opts.Levels.Create(req.Context(), principal(req).Actor(meta(req)), in)
	if err != nil {
		return err
	}
	return writeJSON(w, http.StatusCreated, l)
}

func (s *Server) updateLevel(w http.ResponseWriter, req bunrouter.Request) error {
	var in levels.UpdateParams
	if err := decodeJSON(req, &in); err != nil {
		return err
	}
	l, err := s.opts.Levels.Update(req.Context(), principal(req).Actor(meta(req)), req.Param("id"), in)
	if err != nil {
		return err
	}
	return writeJSON(w, http.StatusOK, l)
}

func (s *Server) deleteLevel(w http.ResponseWriter, req bunrouter.Request) error {
	if err := s.opts.Levels.Delete(req.Context(), principal(req).Actor(meta(req)), req.Param("id")); err != nil {
		return err
	}
	return noContent(w)
}

type levelOrderRequest struct {
	IDs []string `json:"ids"`
}

func (s *Server) reorderLevels(w http.ResponseWriter, req bunrouter.Request) error {
	var in levelOrderRequest
	if err := decodeJSON(req, &in); err != nil {
		return err
	}
	ls, err := s.opts.Levels.Reorder(req.Context(), principal(req).Actor(meta(req)), in.IDs)
	if err != nil {
		return err
	}
	return writeJSON(w, http.StatusOK, itemsOf(ls))
}
