package callflow

import (
	"context"
	"fmt"

	"github.com/sophia-pbx/sophia/config"
)

// MapDirectory is a Directory over views held in memory, by user id: for tests, and for
// explaining calls over sheets that are not stored (hypothetical settings).
type MapDirectory map[string]*config.CallView

// CallView returns the view of uid, or an error wrapping config.ErrNotFound (as the
// store's).
func (m MapDirectory) CallView(_ context.Context, uid string) (*config.CallView, error) {
	if v, ok := m[uid]; ok && v != nil && v.User != nil {
		return v, nil
	}
	return nil, fmt.Errorf("user %q: %w", uid, config.ErrNotFound)
}

// CallViewByNumber returns the view of the user whose main number, or associated number
// marked callback, is num (config.Sheet.Routes).
func (m MapDirectory) CallViewByNumber(_ context.Context, num string) (*config.CallView, error) {
	for _, v := range m {
		if v == nil || v.User == nil || num == "" {
			continue
		}
		if v.User.Sheet.Routes(num) {
			return v, nil
		}
	}
	return nil, fmt.Errorf("number %q: %w", num, config.ErrNotFound)
}

// NewMapDirectory compiles sheets of their sites (by site id) into a MapDirectory, every
// device online and no call in progress. A sheet naming no site uses config.DefaultSiteID.
func NewMapDirectory(sites []*config.Site, sheets ...*config.Sheet) (MapDirectory, error) {
	byID := map[string]*config.Site{}
	for _, s := range sites {
		byID[s.ID] = s
	}
	m := MapDirectory{}
	for _, sh := range sheets {
		id := sh.Site
		if id == "" {
			id = config.DefaultSiteID
		}
		site := byID[id]
		if site == nil {
			if id != config.DefaultSiteID {
				return nil, fmt.Errorf("sheet %q: site %q not given", sh.ID, id)
			}
			d := config.DefaultSite()
			site = &d
		}
		c, err := config.Compile(sh, site)
		if err != nil {
			return nil, err
		}
		m[sh.ID] = &config.CallView{User: c, Device: config.DeviceOnline}
	}
	return m, nil
}
