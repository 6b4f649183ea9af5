package missions_test

import (
	"testing"
	"time"

	"github.com/pocketbase/dbx"
	"github.com/purplebook/purplebook/app/apperr"
	"github.com/purplebook/purplebook/app/audit"
	"github.com/purplebook/purplebook/app/missions"
	"github.com/purplebook/purplebook/app/patch"
	"github.com/purplebook/purplebook/app/templates"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

// TestWork: what waits for each member, by role and assignment, in open
// missions only.
func TestWork(t *testing.T) {
	t.Parallel()
	e := newEnv(t)
	pending := e.addTest("Pending")
	executed := e.addTest("Executed")
	assessed := e.addTest("Assessed")
	skipped := e.addTest("Skipped")
	forBlue := e.addTest("Assigned to blue as red")
	_, err := e.m.Update(e.ctx, e.lead, e.mission, status("active"))
	require.NoError(t, err)
	for _, id := range []string{executed.ID, assessed.ID} {
		_, err := e.m.PatchTest(e.ctx, e.red, e.mission, id, missions.TestPatch{State: patch.Value("executed")})
		require.NoError(t, err)
	}
	_, err = e.m.PatchTest(e.ctx, e.red, e.mission, skipped.ID, missions.TestPatch{State: patch.Value("skipped"), SkipReason: patch.Value("out of scope")})
	require.NoError(t, err)
	_, err = e.m.PatchTest(e.ctx, e.blue, e.mission, assessed.ID, missions.TestPatch{Outcomes: patch.Value([]missions.OutcomeInput{
		{Control: "EDR", DetectionLevel: patch.Value("blocked")}})})
	require.NoError(t, err)
	_, err = e.m.PatchTest(e.ctx, e.lead, e.mission, forBlue.ID, missions.TestPatch{AssignedRedUserID: patch.Value(e.blue.UserID)})
	require.NoError(t, err)

	names := func(l missions.WorkList) []string {
		out := []string{}
		for _, it := range l.Items {
			out = append(out, it.TestName)
		}
		return out
	}
	red, err := e.m.Work(e.ctx, e.red)
	require.NoError(t, err)
	assert.Equal(t, []string{"red"}, red.Roles)
	assert.Equal(t, []string{pending.Name}, names(red.ToExecute))
	assert.Equal(t, 1, red.ToExecute.Total)
	assert.Empty(t, red.ToAssess.Items)
	assert.Empty(t, red.ToReview.Items)
	require.Equal(t, 1, red.Missions.Total)
	assert.Equal(t, 5, red.Missions.Items[0].Progress.Total)
	assert.Equal(t, "red", red.Missions.Items[0].MyRole)

	blue, err := e.m.Work(e.ctx, e.blue)
	require.NoError(t, err)
	assert.Equal(t, []string{executed.Name}, names(blue.ToAssess))
	require.Equal(t, []string{forBlue.Name}, names(blue.ToExecute), "assigned as red, whatever the role")
	assert.True(t, blue.ToExecute.Items[0].AssignedToMe)
	assert.Equal(t, "blue", blue.ToExecute.Items[0].Role)

	lead, err := e.m.Work(e.ctx, e.lead)
	require.NoError(t, err)
	assert.ElementsMatch(t, []string{assessed.Name, skipped.Name}, names(lead.ToReview))
	for _, it := range lead.ToReview.Items {
		if it.TestID == assessed.ID {
			require.NotNil(t, it.Outcome)
			assert.Equal(t, "blocked", it.Outcome.Key)
		}
	}
	// Viewers, outsiders and non-member readers have nothing waiting.
	for _, c := range []missions.Caller{e.viewer, e.outsider, e.auditor} {
		w, err := e.m.Work(e.ctx, c)
		require.NoError(t, err)
		assert.Empty(t, w.ToExecute.Items)
		assert.Empty(t, w.ToAssess.Items)
		assert.Empty(t, w.ToReview.Items)
	}
	// A completed mission is no one's work.
	_, err = e.m.Update(e.ctx, e.lead, e.mission, status("completed"))
	require.NoError(t, err)
	red, err = e.m.Work(e.ctx, e.red)
	require.NoError(t, err)
	assert.Zero(t, red.Missions.Total)
	assert.Empty(t, red.ToExecute.Items)
	assert.Empty(t, red.Roles)
}

// TestArgumentValues: red fills in values for the declared arguments;
// they are validated, stored, audited and substituted into the commands.
func TestArgumentValues(t *testing.T) {
	t.Parallel()
	e := newEnv(t)
	tpl, err := e.set.Templates.Create(e.ctx, audit.Actor{Label: "test"}, templates.Input{Name: "Ping", Executor: "sh",
		Command: "ping -c #{count} #{target}", CleanupCommand: "rm -f #{log}",
		InputArguments: []templates.InputArgument{{Name: "count", Type: "integer", Default: float64(4)}, {Name: "target", Type: "string"},
			{Name: "log", Type: "path", Default: "/tmp/ping.log"}},
		Prerequisites: []templates.Prerequisite{{Description: "ping exists", PrereqCommand: "command -v ping", GetPrereqCommand: "apk add iputils #{count}"}}})
	require.NoError(t, err)
	tt, err := e.m.AddTest(e.ctx, e.lead, e.mission, missions.AddTestInput{TestTemplateID: tpl.ID})
	require.NoError(t, err)
	assert.Equal(t, tpl.InputArguments, tt.InputArguments)
	assert.Equal(t, tpl.Prerequisites, tt.Prerequisites)
	assert.Equal(t, map[string]string{}, tt.ArgumentValues)
	assert.Equal(t, "ping -c 4 #{target}", tt.Rendered.Command)
	assert.Equal(t, []string{"target"}, tt.Rendered.Unfilled)
	assert.Equal(t, "apk add iputils 4", tt.Rendered.Prerequisites[0].GetPrereqCommand)

	_, err = e.m.PatchTest(e.ctx, e.red, e.mission, tt.ID, missions.TestPatch{ArgumentValues: patch.Value(map[string]string{"count": "x"})})
	requireInvalid(t, err, "argument_values.count")
	_, err = e.m.PatchTest(e.ctx, e.blue, e.mission, tt.ID, missions.TestPatch{ArgumentValues: patch.Value(map[string]string{"target": "a"})})
	requireErr(t, err, apperr.ErrForbidden, "field_forbidden")
	got, err := e.m.PatchTest(e.ctx, e.red, e.mission, tt.ID, missions.TestPatch{ArgumentValues: patch.Value(map[string]string{
		"target": "10.0.0.5", "count": "", "log": "/var/tmp/p.log"})})
	require.NoError(t, err)
	assert.Equal(t, map[string]string{"target": "10.0.0.5", "log": "/var/tmp/p.log"}, got.ArgumentValues)
	assert.Equal(t, "ping -c 4 10.0.0.5", got.Rendered.Command)
	assert.Equal(t, "rm -f /var/tmp/p.log", got.Rendered.CleanupCommand)
	assert.Empty(t, got.Rendered.Unfilled)
	assert.Equal(t, "ping -c #{count} #{target}", got.CommandTemplate, "the plan keeps its placeholders")
	var details string
	require.NoError(t, e.d.Read.Select("details").From("audit_events").Where(dbx.HashExp{"action": "mission_test.update", "object_id": tt.ID}).
		Row(&details))
	assert.Contains(t, details, `"argument_values"`)
	got, err = e.m.PatchTest(e.ctx, e.red, e.mission, tt.ID, missions.TestPatch{ArgumentValues: patch.Null[map[string]string]()})
	require.NoError(t, err)
	assert.Equal(t, map[string]string{}, got.ArgumentValues)
}

// TestMissionEvents: every committed change publishes an event (ids only)
// to the mission's members; a refused change publishes nothing.
func TestMissionEvents(t *testing.T) {
	t.Parallel()
	e := newEnv(t)
	hub := e.set.Notify.Hub()
	blueSub, err := hub.Subscribe(e.blue.UserID)
	require.NoError(t, err)
	defer blueSub.Close()
	outSub, err := hub.Subscribe(e.outsider.UserID)
	require.NoError(t, err)
	defer outSub.Close()
	next := func() []missionsEvent {
		t.Helper()
		select {
		case <-blueSub.Events:
		case <-time.After(5 * time.Second):
			t.Fatal("no event")
		}
		evs, overflow := blueSub.TakeEvents()
		require.False(t, overflow)
		out := make([]missionsEvent, len(evs))
		for i, ev := range evs {
			out[i] = missionsEvent{ev.Kind, ev.MissionID, ev.TestID, ev.Version, ev.ActorID}
		}
		return out
	}
	tt := e.addTest("Live")
	assert.Equal(t, []missionsEvent{{"test.added", e.mission, tt.ID, 1, e.lead.UserID}}, next())
	_, err = e.m.Update(e.ctx, e.lead, e.mission, status("active"))
	require.NoError(t, err)
	assert.Equal(t, "mission.updated", next()[0].kind)
	got, err := e.m.PatchTest(e.ctx, e.red, e.mission, tt.ID, missions.TestPatch{State: patch.Value("executed")})
	require.NoError(t, err)
	assert.Equal(t, []missionsEvent{{"test.updated", e.mission, tt.ID, got.Version, e.red.UserID}}, next())
	// Refused: no event.
	_, err = e.m.PatchTest(e.ctx, e.red, e.mission, tt.ID, missions.TestPatch{State: patch.Value("assessed")})
	require.Error(t, err)
	require.NoError(t, e.m.DeleteTest(e.ctx, e.lead, e.mission, tt.ID))
	assert.Equal(t, []missionsEvent{{"test.deleted", e.mission, tt.ID, 0, e.lead.UserID}}, next(), "the refused patch sent nothing")
	evs, _ := outSub.TakeEvents()
	assert.Empty(t, evs, "not a member: nothing")
}

type missionsEvent struct {
	kind, mission, test string
	version             int
	actor               string
}
