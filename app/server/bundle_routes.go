package server

import "github.com/purplebook/purplebook/app/bundle"

// bundleUploadLimit is the import route's body limit: the largest bundle
// content the reader accepts plus room for the zip's and the multipart
// body's framing.
const bundleUploadLimit = bundle.DefaultImportBytes + 64<<20

// Engagement bundles: export, import (upload and dry run, apply), merge
// conflicts, trusted keys and the instance identity.
func (s *Server) bundleRoutes() []Route {
	return []Route{
		{Method: "GET", Path: "/missions/:id/bundle", Access: Permission, Perm: "bundle.export", h: s.exportMissionBundle},
		{Method: "GET", Path: "/library/bundle", Access: Permission, Perm: "bundle.export", h: s.exportLibraryBundle},
		{Method: "POST", Path: "/bundles", Access: Permission, Perm: "bundle.import", Limit: bundleUploadLimit, h: s.uploadBundle},
		{Method: "GET", Path: "/bundles/:import_id", Access: Permission, Perm: "bundle.import", h: s.getBundleImport},
		{Method: "POST", Path: "/bundles/:import_id/apply", Access: Permission, Perm: "bundle.import", h: s.applyBundle},
		{Method: "DELETE", Path: "/bundles/:import_id", Access: Permission, Perm: "bundle.import", h: s.discardBundle},
		{Method: "GET", Path: "/missions/:id/conflicts", Access: Permission, Perm: "mission.read", h: s.listConflicts},
		{Method: "POST", Path: "/missions/:id/conflicts/:cid/resolve", Access: Permission, Perm: "mission.update", h: s.resolveConflict},
		{Method: "GET", Path: "/trusted-keys", Access: Permission, Perm: "bundle.import", h: s.listTrustedKeys},
		{Method: "POST", Path: "/trusted-keys", Access: Permission, Perm: "settings.manage", h: s.addTrustedKey},
		{Method: "DELETE", Path: "/trusted-keys", Access: Permission, Perm: "settings.manage", h: s.removeTrustedKey},
		{Method: "GET", Path: "/instance", Access: Authenticated, h: s.getInstance},
		{Method: "PATCH", Path: "/instance", Access: Permission, Perm: "settings.manage", h: s.patchInstance},
	}
}
