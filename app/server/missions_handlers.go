package server

import (
	"net/http"

	"github.com/purplebook/purplebook/app/apperr"
	"github.com/purplebook/purplebook/app/db"
	"github.com/purplebook/purplebook/app/missions"
	"github.com/uptrace/bunrouter"
)

func (s *Server) missionRoutes() []Route {
	read := func(m, p string, h bunrouter.HandlerFunc) Route {
		return Route{Method: m, Path: p, Access: Permission, Perm: "mission.read", h: h}
	}
	// Writes declare the weakest permission that can make them; the service
	// checks the exact permission and the caller's role in the mission
	// (field by field for test updates).
	return []Route{
		with(read("GET", "/missions", s.listMissions), Route{Summary: "Missions I may see", Query: paged("status: mission status", "q: search text"), Out: db.Page[missions.Mission]{}}),
		{Method: "POST", Path: "/missions", Access: Permission, Perm: "mission.create", h: s.createMission, Summary: "Create a mission", In: missions.MissionInput{}, Out: missions.Mission{}, Status: 201},
		with(read("GET", "/missions/:id", s.getMission), Route{Summary: "A mission", Out: missions.Mission{}}),
		{Method: "PATCH", Path: "/missions/:id", Access: Permission, Perm: "mission.update", h: s.updateMission, Summary: "Change a mission or its status (If-Match or version)", In: missions.MissionUpdate{}, Out: missions.Mission{}},
		{Method: "DELETE", Path: "/missions/:id", Access: Permission, Perm: "mission.delete", h: s.deleteMission, Summary: "Delete a mission (soft)", Status: 204},

		with(read("GET", "/missions/:id/members", s.listMembers), Route{Summary: "Mission members and roles", Out: items[missions.Member]{}}),
		{Method: "POST", Path: "/missions/:id/members", Access: Permission, Perm: "mission.manage_members", h: s.addMember, Summary: "Add a member with a role", In: memberRequest{}, Out: missions.Member{}, Status: 201},
		{Method: "PATCH", Path: "/missions/:id/members/:user_id", Access: Permission, Perm: "mission.manage_members", h: s.updateMember, Summary: "Change a member's role", In: roleRequest{}, Out: missions.Member{}},
		{Method: "DELETE", Path: "/missions/:id/members/:user_id", Access: Permission, Perm: "mission.manage_members", h: s.removeMember, Summary: "Remove a member", Status: 204},

		with(read("GET", "/missions/:id/categories", s.listCategories), Route{Summary: "Mission categories", Out: items[missions.Category]{}}),
		{Method: "POST", Path: "/missions/:id/categories", Access: Permission, Perm: "mission.update", h: s.createCategory, Summary: "Create a category", In: missions.CategoryInput{}, Out: missions.Category{}, Status: 201},
		{Method: "PATCH", Path: "/missions/:id/categories/:cid", Access: Permission, Perm: "mission.update", h: s.updateCategory, Summary: "Change a category", In: missions.CategoryInput{}, Out: missions.Category{}},
		{Method: "DELETE", Path: "/missions/:id/categories/:cid", Access: Permission, Perm: "mission.update", h: s.deleteCategory, Summary: "Delete a category", Status: 204},

		with(read("GET", "/missions/:id/scenarios", s.listMissionScenarios), Route{Summary: "Scenarios in the mission", Out: items[missions.MissionScenario]{}}),
		{Method: "POST", Path: "/missions/:id/scenarios", Access: Permission, Perm: "mission.update", h: s.addMissionScenario, Summary: "Instantiate a scenario template (copies its tests)", In: addScenarioRequest{}, Out: missions.InstantiateResult{}, Status: 201},
		{Method: "DELETE", Path: "/missions/:id/scenarios/:sid", Access: Permission, Perm: "mission.update", h: s.deleteMissionScenario, Summary: "Remove a scenario and its tests", Status: 204},

		with(read("GET", "/missions/:id/tests", s.listMissionTests), Route{Summary: "Mission tests",
			Query: paged("state: test state", "category: category id", "scenario: scenario id", "tactic: tactic external id", "q: search text"), Out: db.Page[missions.Test]{}}),
		{Method: "POST", Path: "/missions/:id/tests", Access: Permission, Perm: "mission.update", h: s.addMissionTest, Summary: "Add a test (ad hoc or from a template)", In: missions.AddTestInput{}, Out: missions.Test{}, Status: 201},
		{Method: "PUT", Path: "/missions/:id/tests/order", Access: Permission, Perm: "mission.update", h: s.reorderMissionTests, Summary: "Reorder the tests", In: reorderRequest{}, Status: 204},
		with(read("GET", "/missions/:id/tests/:tid", s.getMissionTest), Route{Summary: "A mission test with outcomes", Out: missions.Test{}}),
		with(read("PATCH", "/missions/:id/tests/:tid", s.patchMissionTest), Route{Summary: "Change a test: plan, red or blue fields (If-Match or version)",
			In: missions.TestPatch{}, Out: missions.Test{}, Doc: "Red fields need mission_test.execute and a red or lead role; blue fields mission_test.assess and a blue or lead role; plan fields mission.update."}),
		{Method: "DELETE", Path: "/missions/:id/tests/:tid", Access: Permission, Perm: "mission.update", h: s.deleteMissionTest, Summary: "Delete a test", Status: 204},

		{Method: "GET", Path: "/security-controls", Access: Authenticated, h: s.securityControls, Summary: "The security controls assessed per test", Out: items[string]{}},
	}
}

// caller adapts the authenticated principal for the missions service.
func caller(req bunrouter.Request) missions.Caller {
	p := principal(req)
	return missions.Caller{UserID: p.UserID, Can: p.Can, Actor: p.Actor(meta(req))}
}

func (s *Server) listMissions(w http.ResponseWriter, req bunrouter.Request) error {
	var p missions.ListParams
	var err error
	if p.PageParams, err = pageParams(req); err != nil {
		return err
	}
	if p.Status, err = queryString(req, "status"); err != nil {
		return err
	}
	if p.Q, err = queryString(req, "q"); err != nil {
		return err
	}
	page, err := s.opts.Missions.List(req.Context(), caller(req), p)
	if err != nil {
		return err
	}
	return writeJSON(w, http.StatusOK, page)
}

func (s *Server) createMission(w http.ResponseWriter, req bunrouter.Request) error {
	var in missions.MissionInput
	if err := decodeJSON(req, &in); err != nil {
		return err
	}
	m, err := s.opts.Missions.Create(req.Context(), caller(req), in)
	if err != nil {
		return err
	}
	return writeJSON(w, http.StatusCreated, m)
}

func (s *Server) getMission(w http.ResponseWriter, req bunrouter.Request) error {
	m, err := s.opts.Missions.Get(req.Context(), caller(req), req.Param("id"))
	if err != nil {
		return err
	}
	return writeJSON(w, http.StatusOK, m)
}

func (s *Server) updateMission(w http.ResponseWriter, req bunrouter.Request) error {
	var up missions.MissionUpdate
	if err := decodeJSON(req, &up); err != nil {
		return err
	}
	if err := ifMatch(req, &up.Version); err != nil {
		return err
	}
	m, err := s.opts.Missions.Update(req.Context(), caller(req), req.Param("id"), up)
	if err != nil {
		return err
	}
	return writeJSON(w, http.StatusOK, m)
}

func (s *Server) deleteMission(w http.ResponseWriter, req bunrouter.Request) error {
	if err := s.opts.Missions.Delete(req.Context(), caller(req), req.Param("id")); err != nil {
		return err
	}
	w.WriteHeader(http.StatusNoContent)
	return nil
}

func (s *Server) listMembers(w http.ResponseWriter, req bunrouter.Request) error {
	ms, err := s.opts.Missions.Members(req.Context(), caller(req), req.Param("id"))
	if err != nil {
		return err
	}
	return writeJSON(w, http.StatusOK, itemsOf(ms))
}

type memberRequest struct {
	UserID string `json:"user_id"`
	Role   string `json:"role"`
}

func (s *Server) addMember(w http.ResponseWriter, req bunrouter.Request) error {
	var in memberRequest
	if err := decodeJSON(req, &in); err != nil {
		return err
	}
	m, err := s.opts.Missions.SetMember(req.Context(), caller(req), req.Param("id"), in.UserID, in.Role)
	if err != nil {
		return err
	}
	return writeJSON(w, http.StatusCreated, m)
}

type roleRequest struct {
	Role string `json:"role"`
}

func (s *Server) updateMember(w http.ResponseWriter, req bunrouter.Request) error {
	var in roleRequest
	if err := decodeJSON(req, &in); err != nil {
		return err
	}
	members, err := s.opts.Missions.Members(req.Context(), caller(req), req.Param("id"))
	if err != nil {
		return err
	}
	found := false
	for _, m := range members {
		found = found || m.UserID == req.Param("user_id")
	}
	if !found {
		return apperr.New(apperr.ErrNotFound, "not_found", "This user is not a member of the mission.")
	}
	m, err := s.opts.Missions.SetMember(req.Context(), caller(req), req.Param("id"), req.Param("user_id"), in.Role)
	if err != nil {
		return err
	}
	return writeJSON(w, http.StatusOK, m)
}

func (s *Server) removeMember(w http.ResponseWriter, req bunrouter.Request) error {
	if err := s.opts.Missions.RemoveMember(req.Context(), caller(req), req.Param("id"), req.Param("user_id")); err != nil {
		return err
	}
	w.WriteHeader(http.StatusNoContent)
	return nil
}

func (s *Server) listCategories(w http.ResponseWriter, req bunrouter.Request) error {
	cs, err := s.opts.Missions.Categories(req.Context(), caller(req), req.Param("id"))
	if err != nil {
		return err
	}
	return writeJSON(w, http.StatusOK, itemsOf(cs))
}

func (s *Server) createCategory(w http.ResponseWriter, req bunrouter.Request) error {
	var in missions.CategoryInput
	if err := decodeJSON(req, &in); err != nil {
		return err
	}
	c, err := s.opts.Missions.SaveCategory(req.Context(), caller(req), req.Param("id"), "", in)
	if err != nil {
		return err
	}
	return writeJSON(w, http.StatusCreated, c)
}

func (s *Server) updateCategory(w http.ResponseWriter, req bunrouter.Request) error {
	var in missions.CategoryInput
	if err := decodeJSON(req, &in); err != nil {
		return err
	}
	c, err := s.opts.Missions.SaveCategory(req.Context(), caller(req), req.Param("id"), req.Param("cid"), in)
	if err != nil {
		return err
	}
	return writeJSON(w, http.StatusOK, c)
}

func (s *Server) deleteCategory(w http.ResponseWriter, req bunrouter.Request) error {
	if err := s.opts.Missions.DeleteCategory(req.Context(), caller(req), req.Param("id"), req.Param("cid")); err != nil {
		return err
	}
	w.WriteHeader(http.StatusNoContent)
	return nil
}

func (s *Server) listMissionScenarios(w http.ResponseWriter, req bunrouter.Request) error {
	sc, err := s.opts.Missions.Scenarios(req.Context(), caller(req), req.Param("id"))
	if err != nil {
		return err
	}
	return writeJSON(w, http.StatusOK, itemsOf(sc))
}

type addScenarioRequest struct {
	ScenarioTemplateID string `json:"scenario_template_id"`
}

func (s *Server) addMissionScenario(w http.ResponseWriter, req bunrouter.Request) error {
	var in addScenarioRequest
	if err := decodeJSON(req, &in); err != nil {
		return err
	}
	res, err := s.opts.Missions.InstantiateScenario(req.Context(), caller(req), req.Param("id"), in.ScenarioTemplateID)
	if err != nil {
		return err
	}
	return writeJSON(w, http.StatusCreated, res)
}

func (s *Server) deleteMissionScenario(w http.ResponseWriter, req bunrouter.Request) error {
	if err := s.opts.Missions.DeleteScenario(req.Context(), caller(req), req.Param("id"), req.Param("sid")); err != nil {
		return err
	}
	w.WriteHeader(http.StatusNoContent)
	return nil
}

func (s *Server) listMissionTests(w http.ResponseWriter, req bunrouter.Request) error {
	var p missions.TestListParams
	var err error
	if p.PageParams, err = pageParams(req); err != nil {
		return err
	}
	for name, dst := range map[string]*string{"state": &p.State, "category": &p.CategoryID, "scenario": &p.ScenarioID,
		"tactic": &p.Tactic, "q": &p.Q} {
		if *dst, err = queryString(req, name); err != nil {
			return err
		}
	}
	page, err := s.opts.Missions.Tests(req.Context(), caller(req), req.Param("id"), p)
	if err != nil {
		return err
	}
	return writeJSON(w, http.StatusOK, page)
}

func (s *Server) addMissionTest(w http.ResponseWriter, req bunrouter.Request) error {
	var in missions.AddTestInput
	if err := decodeJSON(req, &in); err != nil {
		return err
	}
	t, err := s.opts.Missions.AddTest(req.Context(), caller(req), req.Param("id"), in)
	if err != nil {
		return err
	}
	return writeJSON(w, http.StatusCreated, t)
}

type reorderRequest struct {
	TestIDs []string `json:"test_ids"`
}

func (s *Server) reorderMissionTests(w http.ResponseWriter, req bunrouter.Request) error {
	var in reorderRequest
	if err := decodeJSON(req, &in); err != nil {
		return err
	}
	if err := s.opts.Missions.ReorderTests(req.Context(), caller(req), req.Param("id"), in.TestIDs); err != nil {
		return err
	}
	w.WriteHeader(http.StatusNoContent)
	return nil
}

func (s *Server) getMissionTest(w http.ResponseWriter, req bunrouter.Request) error {
	t, err := s.opts.Missions.GetTest(req.Context(), caller(req), req.Param("id"), req.Param("tid"))
	if err != nil {
		return err
	}
	return writeJSON(w, http.StatusOK, t)
}

func (s *Server) patchMissionTest(w http.ResponseWriter, req bunrouter.Request) error {
	var in missions.TestPatch
	if err := decodeJSON(req, &in); err != nil {
		return err
	}
	if err := ifMatch(req, &in.Version); err != nil {
		return err
	}
	t, err := s.opts.Missions.PatchTest(req.Context(), caller(req), req.Param("id"), req.Param("tid"), in)
	if err != nil {
		return err
	}
	return writeJSON(w, http.StatusOK, t)
}

func (s *Server) deleteMissionTest(w http.ResponseWriter, req bunrouter.Request) error {
	if err := s.opts.Missions.DeleteTest(req.Context(), caller(req), req.Param("id"), req.Param("tid")); err != nil {
		return err
	}
	w.WriteHeader(http.StatusNoContent)
	return nil
}

func (s *Server) securityControls(w http.ResponseWriter, req bunrouter.Request) error {
	cs, err := s.opts.Settings.SecurityControls(req.Context())
	if err != nil {
		return err
	}
	return writeJSON(w, http.StatusOK, itemsOf(cs))
}
