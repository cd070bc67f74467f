package service

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"syscall"
	"time"
)

// Client talks to a daemon over its control socket.
type Client struct {
	socket string
	hc     *http.Client
}

// NewClient returns a client of the daemon listening on socket. Nothing is
// dialled until the first call.
func NewClient(socket string) *Client {
	tr := &http.Transport{
		DialContext: func(ctx context.Context, _, _ string) (net.Conn, error) {
			var d net.Dialer
			return d.DialContext(ctx, "unix", socket)
		},
		MaxIdleConns:       1,
		IdleConnTimeout:    10 * time.Second,
		DisableCompression: true,
	}
	return &Client{socket: socket, hc: &http.Client{Transport: tr}}
}

// Close drops idle connections.
func (c *Client) Close() { c.hc.CloseIdleConnections() }

// Status returns the daemon's status.
func (c *Client) Status(ctx context.Context) (Status, error) {
	var st Status
	err := c.call(ctx, http.MethodGet, "status", nil, &st)
	if err == nil && st.Version != StatusVersion {
		return st, fmt.Errorf("%w: status version want %d, have %d", ErrProtocol, StatusVersion, st.Version)
	}
	return st, err
}

// Sync asks the daemon to upload every change made so far; with req.Wait
// it answers once all of it is stored.
func (c *Client) Sync(ctx context.Context, req SyncRequest) (SyncReply, error) {
	var rep SyncReply
	return rep, c.call(ctx, http.MethodPost, "sync", req, &rep)
}

// Pin keeps the subtree at drivePath in the local cache, fetching it now.
func (c *Client) Pin(ctx context.Context, drivePath string) error {
	return c.call(ctx, http.MethodPost, "pin", PathRequest{Path: drivePath}, &OKReply{})
}

// Unpin lets the subtree at drivePath be evicted again.
func (c *Client) Unpin(ctx context.Context, drivePath string) error {
	return c.call(ctx, http.MethodPost, "unpin", PathRequest{Path: drivePath}, &OKReply{})
}

// FileStatus returns the sync state of drivePath.
func (c *Client) FileStatus(ctx context.Context, drivePath string) (FileStatus, error) {
	var rep FileStatus
	return rep, c.call(ctx, http.MethodPost, "file-status", PathRequest{Path: drivePath}, &rep)
}

// ClearCache drops every clean cached block.
func (c *Client) ClearCache(ctx context.Context) (ClearReply, error) {
	var rep ClearReply
	return rep, c.call(ctx, http.MethodPost, "cache/clear", struct{}{}, &rep)
}

// Unmount asks the daemon to unmount and stop. It answers once the mount
// is gone and the last upload round is over; the daemon then exits.
func (c *Client) Unmount(ctx context.Context) (UnmountReply, error) {
	var rep UnmountReply
	return rep, c.call(ctx, http.MethodPost, "unmount", struct{}{}, &rep)
}

// Pause stops the daemon's network traffic until Resume (see ErrPaused).
func (c *Client) Pause(ctx context.Context) (PauseReply, error) {
	var rep PauseReply
	return rep, c.call(ctx, http.MethodPost, "pause", struct{}{}, &rep)
}

// Resume restarts the daemon's network traffic.
func (c *Client) Resume(ctx context.Context) (PauseReply, error) {
	var rep PauseReply
	return rep, c.call(ctx, http.MethodPost, "resume", struct{}{}, &rep)
}

// call sends one request and decodes the reply into out. A socket nobody
// listens on is ErrNoDaemon.
func (c *Client) call(ctx context.Context, method, endpoint string, body, out any) error {
	var rd io.Reader
	if body != nil {
		b, err := json.Marshal(body)
		if err != nil {
			return err
		}
		rd = bytes.NewReader(b)
	}
	req, err := http.NewRequestWithContext(ctx, method, "http://shardrive"+apiPrefix+endpoint, rd)
	if err != nil {
		return err
	}
	if body != nil {
		req.Header.Set("Content-Type", "application/json")
	}
	resp, err := c.hc.Do(req)
	if err != nil {
		if noListener(err) {
			return fmt.Errorf("%s: %w", c.socket, ErrNoDaemon)
		}
		return fmt.Errorf("control socket %s: %w", c.socket, err)
	}
	defer resp.Body.Close()
	b, err := io.ReadAll(io.LimitReader(resp.Body, maxReplyBody+1))
	if err != nil {
		return fmt.Errorf("control reply: %w", err)
	}
	if len(b) > maxReplyBody {
		return fmt.Errorf("%w: reply over %d bytes", ErrProtocol, maxReplyBody)
	}
	if resp.StatusCode != http.StatusOK {
		var e ErrorReply
		if err := json.Unmarshal(b, &e); err != nil || e.Error.Kind == "" {
			return fmt.Errorf("%w: HTTP %d from the daemon", ErrProtocol, resp.StatusCode)
		}
		return &RemoteError{Kind: e.Error.Kind, Message: e.Error.Message, Status: resp.StatusCode}
	}
	if err := json.Unmarshal(b, out); err != nil {
		return fmt.Errorf("%w: %s reply: %w", ErrProtocol, endpoint, err)
	}
	return nil
}

// noListener reports a dial that found no daemon: no socket file, nobody
// accepting on it, or a path too long to be one.
func noListener(err error) bool {
	var op *net.OpError
	if !errors.As(err, &op) || op.Op != "dial" {
		return false
	}
	return errors.Is(err, syscall.ENOENT) || errors.Is(err, syscall.ECONNREFUSED) ||
		errors.Is(err, syscall.EINVAL) || errors.Is(err, syscall.ENOTDIR)
}
