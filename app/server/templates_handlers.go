package server

import (
	"github.com/purplebook/purplebook/app/db"
	"net/http"

	"github.com/purplebook/purplebook/app/patch"
	"github.com/purplebook/purplebook/app/templates"
	"github.com/uptrace/bunrouter"
)

func (s *Server) templateRoutes() []Route {
	return []Route{
		{Method: "GET", Path: "/test-templates", Access: Permission, Perm: "test_template.read", h: s.listTemplates, Summary: "List test templates", Query: paged("tactic: tactic external id", "technique: technique external id", "subtechnique: sub-technique external id", "opsec: opsec level", "platform: platform", "tag: tag", "q: search text", "sort: sort key", "deleted: true to list deleted"), Out: db.Page[templates.Template]{}},
		{Method: "POST", Path: "/test-templates", Access: Permission, Perm: "test_template.create", h: s.createTemplate, Summary: "Create a test template", In: templates.Input{}, Out: templates.Template{}, Status: 201},
		{Method: "GET", Path: "/test-templates/:id", Access: Permission, Perm: "test_template.read", h: s.getTemplate, Summary: "A test template", Out: templates.Template{}},
		{Method: "PATCH", Path: "/test-templates/:id", Access: Permission, Perm: "test_template.update", h: s.updateTemplate, Summary: "Change a test template (If-Match or version)", In: templates.UpdateParams{}, Out: templates.Template{}},
		{Method: "DELETE", Path: "/test-templates/:id", Access: Permission, Perm: "test_template.delete", h: s.deleteTemplate, Summary: "Delete a test template (soft)", Status: 204},
		{Method: "POST", Path: "/test-templates/:id/restore", Access: Permission, Perm: "test_template.delete", h: s.restoreTemplate, Summary: "Restore a deleted test template", Out: templates.Template{}},

		{Method: "GET", Path: "/scenario-templates", Access: Permission, Perm: "scenario_template.read", h: s.listScenarios, Summary: "List scenario templates", Query: paged("q: search text", "deleted: true to list deleted"), Out: db.Page[templates.Scenario]{}},
		{Method: "POST", Path: "/scenario-templates", Access: Permission, Perm: "scenario_template.create", h: s.createScenario, Summary: "Create a scenario template", In: templates.ScenarioInput{}, Out: templates.Scenario{}, Status: 201},
		{Method: "GET", Path: "/scenario-templates/:id", Access: Permission, Perm: "scenario_template.read", h: s.getScenario, Summary: "A scenario template with its tests", Out: templates.Scenario{}},
		{Method: "PATCH", Path: "/scenario-templates/:id", Access: Permission, Perm: "scenario_template.update", h: s.updateScenario, Summary: "Change a scenario template", In: templates.ScenarioUpdate{}, Out: templates.Scenario{}},
		{Method: "PUT", Path: "/scenario-templates/:id/tests", Access: Permission, Perm: "scenario_template.update", h: s.replaceScenarioTests, Summary: "Replace the ordered test list", In: replaceTestsRequest{}, Out: templates.Scenario{}},
		{Method: "DELETE", Path: "/scenario-templates/:id", Access: Permission, Perm: "scenario_template.delete", h: s.deleteScenario, Summary: "Delete a scenario template (soft)", Status: 204},
		{Method: "POST", Path: "/scenario-templates/:id/restore", Access: Permission, Perm: "scenario_template.delete", h: s.restoreScenario, Summary: "Restore a deleted scenario template", Out: templates.Scenario{}},
	}
}

func (s *Server) listTemplates(w http.ResponseWriter, req bunrouter.Request) error {
	var p templates.ListParams
	var err error
	if p.PageParams, err = pageParams(req); err != nil {
		return err
	}
	for name, dst := range map[string]*string{"tactic": &p.Tactic, "technique": &p.Technique, "subtechnique": &p.Subtechnique,
		"opsec": &p.Opsec, "platform": &p.Platform, "tag": &p.Tag, "q": &p.Q, "sort": &p.Sort} {
		if *dst, err = queryString(req, name); err != nil {
			return err
		}
	}
	if b, err := queryBool(req, "deleted"); err != nil {
		return err
	} else if b != nil {
		p.Deleted = *b
	}
	page, err := s.opts.Templates.List(req.Context(), p)
	if err != nil {
		return err
	}
	return writeJSON(w, http.StatusOK, page)
}

func (s *Server) createTemplate(w http.ResponseWriter, req bunrouter.Request) error {
	var in templates.Input
	if err := decodeJSON(req, &in); err != nil {
		return err
	}
	t, err := s.opts.Templates.Create(req.Context(), principal(req).Actor(meta(req)), in)
	if err != nil {
		return err
	}
	return writeJSON(w, http.StatusCreated, t)
}

func (s *Server) getTemplate(w http.ResponseWriter, req bunrouter.Request) error {
	t, err := s.opts.Templates.Get(req.Context(), req.Param("id"))
	if err != nil {
		return err
	}
	return writeJSON(w, http.StatusOK, t)
}

func (s *Server) updateTemplate(w http.ResponseWriter, req bunrouter.Request) error {
	var up templates.UpdateParams
	if err := decodeJSON(req, &up); err != nil {
		return err
	}
	if err := ifMatch(req, &up.Version); err != nil {
		return err
	}
	t, err := s.opts.Templates.Update(req.Context(), principal(req).Actor(meta(req)), req.Param("id"), up)
	if err != nil {
		return err
	}
	return writeJSON(w, http.StatusOK, t)
}

func (s *Server) deleteTemplate(w http.ResponseWriter, req bunrouter.Request) error {
	if err := s.opts.Templates.Delete(req.Context(), principal(req).Actor(meta(req)), req.Param("id")); err != nil {
		return err
	}
	w.WriteHeader(http.StatusNoContent)
	return nil
}

func (s *Server) restoreTemplate(w http.ResponseWriter, req bunrouter.Request) error {
	t, err := s.opts.Templates.Restore(req.Context(), principal(req).Actor(meta(req)), req.Param("id"))
	if err != nil {
		return err
	}
	return writeJSON(w, http.StatusOK, t)
}

func (s *Server) listScenarios(w http.ResponseWriter, req bunrouter.Request) error {
	var p templates.ScenarioListParams
	var err error
	if p.PageParams, err = pageParams(req); err != nil {
		return err
	}
	if p.Q, err = queryString(req, "q"); err != nil {
		return err
	}
	if b, err := queryBool(req, "deleted"); err != nil {
		return err
	} else if b != nil {
		p.Deleted = *b
	}
	page, err := s.opts.Templates.ListScenarios(req.Context(), p)
	if err != nil {
		return err
	}
	return writeJSON(w, http.StatusOK, page)
}

func (s *Server) createScenario(w http.ResponseWriter, req bunrouter.Request) error {
	var in templates.ScenarioInput
	if err := decodeJSON(req, &in); err != nil {
		return err
	}
	sc, err := s.opts.Templates.CreateScenario(req.Context(), principal(req).Actor(meta(req)), in)
	if err != nil {
		return err
	}
	return writeJSON(w, http.StatusCreated, sc)
}

func (s *Server) getScenario(w http.ResponseWriter, req bunrouter.Request) error {
	sc, err := s.opts.Templates.GetScenario(req.Context(), req.Param("id"))
	if err != nil {
		return err
	}
	return writeJSON(w, http.StatusOK, sc)
}

func (s *Server) updateScenario(w http.ResponseWriter, req bunrouter.Request) error {
	var up templates.ScenarioUpdate
	if err := decodeJSON(req, &up); err != nil {
		return err
	}
	if err := ifMatch(req, &up.Version); err != nil {
		return err
	}
	sc, err := s.opts.Templates.UpdateScenario(req.Context(), principal(req).Actor(meta(req)), req.Param("id"), up)
	if err != nil {
		return err
	}
	return writeJSON(w, http.StatusOK, sc)
}

type replaceTestsRequest struct {
	TestTemplateIDs []string         `json:"test_template_ids"`
	Version         patch.Field[int] `json:"version"`
}

func (s *Server) replaceScenarioTests(w http.ResponseWriter, req bunrouter.Request) error {
	var in replaceTestsRequest
	if err := decodeJSON(req, &in); err != nil {
		return err
	}
	if err := ifMatch(req, &in.Version); err != nil {
		return err
	}
	sc, err := s.opts.Templates.ReplaceTests(req.Context(), principal(req).Actor(meta(req)), req.Param("id"), in.TestTemplateIDs, in.Version)
	if err != nil {
		return err
	}
	return writeJSON(w, http.StatusOK, sc)
}

func (s *Server) deleteScenario(w http.ResponseWriter, req bunrouter.Request) error {
	if err := s.opts.Templates.DeleteScenario(req.Context(), principal(req).Actor(meta(req)), req.Param("id")); err != nil {
		return err
	}
	w.WriteHeader(http.StatusNoContent)
	return nil
}

func (s *Server) restoreScenario(w http.ResponseWriter, req bunrouter.Request) error {
	sc, err := s.opts.Templates.RestoreScenario(req.Context(), principal(req).Actor(meta(req)), req.Param("id"))
	if err != nil {
		return err
	}
	return writeJSON(w, http.StatusOK, sc)
}
