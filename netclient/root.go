package netclient

import (
	"context"
	"errors"
	"fmt"
	"net/http"
	"net/url"

	"github.com/shardrive/shardrive/core/format"
)

// RootConflict is a farmer's refusal of a root record whose version is not
// above the one it holds (409 conflict). It unwraps to format.ErrConflict.
// Stored is the version the farmer says it holds: a client that finds one
// above its own has met a newer root (another device, or a recovery it
// missed) or a farmer that lies; either way it must not simply retry.
type RootConflict struct {
	Farmer format.NodeID
	Stored uint64
}

func (e *RootConflict) Error() string {
	return fmt.Sprintf("farmer %s holds root record version %d: %v", e.Farmer, e.Stored, format.ErrConflict)
}

// Unwrap returns format.ErrConflict.
func (e *RootConflict) Unwrap() error { return format.ErrConflict }

// PutRoot stores record as this account's root record at version on the
// farmer (PUT /v1/root). The farmer keeps only versions above the one it
// holds: an equal or lower version fails with a *RootConflict naming the
// stored version (errors.Is(err, format.ErrConflict)); a conflict answer
// without a readable version header fails with format.ErrConflict and
// format.ErrMalformed. A version outside 1..format.MaxRootVersion or a
// record outside 1..format.MaxRootRecord bytes fails with
// format.ErrBadRequest or format.ErrTooLarge before anything is sent.
func (c *FarmerClient) PutRoot(ctx context.Context, version uint64, record []byte) error {
	if err := checkRoot(version, record); err != nil {
		return fmt.Errorf("put root v%d on %s: %w", version, c.addr.Host, err)
	}
	ctx, cancel := context.WithTimeout(ctx, c.cfg.Timeout)
	defer cancel()
	q := url.Values{format.RootVersionParam: {format.FormatRootVersion(version)}}
	resp, err := c.do(ctx, http.MethodPut, format.RootPath, q, record, format.BodyHash(record))
	if err != nil {
		if resp != nil && resp.StatusCode == http.StatusConflict && errors.Is(err, format.ErrConflict) {
			err = c.rootConflict(resp, err)
		}
		return fmt.Errorf("put root v%d on %s: %w", version, c.addr.Host, err)
	}
	discard(resp)
	return nil
}

// checkRoot refuses a root record the farmer would refuse.
func checkRoot(version uint64, record []byte) error {
	switch {
	case version < 1 || version > format.MaxRootVersion:
		return fmt.Errorf("%w: root version %d outside 1..%d", format.ErrBadRequest, version, uint64(format.MaxRootVersion))
	case len(record) == 0:
		return fmt.Errorf("%w: empty root record", format.ErrBadRequest)
	case len(record) > format.MaxRootRecord:
		return fmt.Errorf("%w: root record of %d bytes, at most %d", format.ErrTooLarge, len(record), format.MaxRootRecord)
	}
	return nil
}

// rootConflict turns a 409 answer into a *RootConflict, or into werr
// joined with format.ErrMalformed when the farmer did not say which
// version it holds.
func (c *FarmerClient) rootConflict(resp *http.Response, werr error) error {
	stored, err := format.ParseRootVersion(resp.Header.Get(format.HeaderRootVersion))
	if err != nil {
		return fmt.Errorf("%w; %s header: %w", werr, format.HeaderRootVersion, err)
	}
	return &RootConflict{Farmer: c.addr.ID, Stored: stored}
}

// GetRoot returns this account's root record on the farmer and the version
// the farmer gives it (GET /v1/root). The farmer cannot read or check the
// record: the caller verifies it, and the version it carries inside, before
// trusting either. An account without a record gets format.ErrNotFound; an
// answer without a valid version header, empty, or over
// format.MaxRootRecord bytes fails with format.ErrMalformed.
func (c *FarmerClient) GetRoot(ctx context.Context) (uint64, []byte, error) {
	ctx, cancel := context.WithTimeout(ctx, c.cfg.Timeout)
	defer cancel()
	resp, err := c.do(ctx, http.MethodGet, format.RootPath, nil, nil, format.EmptyBodyHash())
	if err != nil {
		return 0, nil, fmt.Errorf("get root from %s: %w", c.addr.Host, err)
	}
	version, verr := format.ParseRootVersion(resp.Header.Get(format.HeaderRootVersion))
	record, err := readBody(resp, format.MaxRootRecord)
	switch {
	case err != nil:
		return 0, nil, fmt.Errorf("get root from %s: %w", c.addr.Host, err)
	case verr != nil:
		return 0, nil, fmt.Errorf("get root from %s: %s header: %w", c.addr.Host, format.HeaderRootVersion, verr)
	case len(record) == 0:
		return 0, nil, fmt.Errorf("get root from %s: %w: empty root record", c.addr.Host, format.ErrMalformed)
	}
	return version, record, nil
}
