package cache

import (
	"database/sql"
	"errors"
	"fmt"
	"time"
)

// Farmer is a storage node the drive uses and what we measured of it.
type Farmer struct {
	ID         int64
	NodeID     string
	Address    string
	Latency    time.Duration
	Throughput float64 // bytes per second
	Successes  int64
	Failures   int64
	BadData    int64
	LastSeen   time.Time
	State      string
	Region     string // as the farmer last declared it
}

// AddFarmer records a farmer (or updates its address) and returns its row id.
func (t *Tx) AddFarmer(nodeID, address string) (int64, error) {
	var id int64
	err := t.queryRow("SELECT id FROM farmers WHERE node_id = ?", nodeID).Scan(&id)
	switch {
	case err == nil:
		_, err = t.exec("UPDATE farmers SET address = ? WHERE id = ?", address, id)
		return id, err
	case !errors.Is(err, sql.ErrNoRows):
		return 0, err
	}
	res, err := t.exec("INSERT INTO farmers(node_id, address, added) VALUES(?, ?, ?)", nodeID, address, time.Now().UnixNano())
	if err != nil {
		return 0, fmt.Errorf("add farmer %s: %w", address, err)
	}
	return res.LastInsertId()
}

// Farmers lists every farmer the drive knows, in the order they were added.
func (t *Tx) Farmers() ([]Farmer, error) {
	rows, err := t.query(`SELECT id, node_id, address, latency_ns, throughput, successes, failures, bad_data, last_seen, state, region
		FROM farmers ORDER BY id`)
	if err != nil {
		return nil, err
	}
	defer rows.Close()
	var out []Farmer
	for rows.Next() {
		var f Farmer
		var lat, seen int64
		if err := rows.Scan(&f.ID, &f.NodeID, &f.Address, &lat, &f.Throughput, &f.Successes, &f.Failures,
			&f.BadData, &seen, &f.State, &f.Region); err != nil {
			return nil, err
		}
		f.Latency = time.Duration(lat)
		if seen != 0 {
			f.LastSeen = time.Unix(0, seen)
		}
		out = append(out, f)
	}
	return out, rows.Err()
}

// SaveFarmerStats stores what the network layer measured of a farmer, so the
// next run starts with it.
func (t *Tx) SaveFarmerStats(f Farmer) error {
	var seen int64
	if !f.LastSeen.IsZero() {
		seen = f.LastSeen.UnixNano()
	}
	_, err := t.exec(`UPDATE farmers SET latency_ns = ?, throughput = ?, successes = ?, failures = ?, bad_data = ?, last_seen = ?
		WHERE node_id = ?`, int64(f.Latency), f.Throughput, f.Successes, f.Failures, f.BadData, seen, f.NodeID)
	return err
}
