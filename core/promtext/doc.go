// Package promtext writes metrics in the Prometheus text exposition format,
// version 0.0.4, for the loopback-only metrics listeners of the drive
// daemon and the farmer. It formats bytes only; serving them over HTTP is
// each daemon's business, so core stays free of I/O beyond an io.Writer.
//
// It is written by hand rather than with client_golang: both daemons
// export a handful of values read on demand from state they already keep,
// which needs no registry, collectors or extra module.
//
// # Terms
//
//   - family: one metric name with its HELP and TYPE lines, followed by
//     its samples.
//   - sample: "name{label="value",...} value", one line.
//   - loopback address: host:port whose host is 127.0.0.0/8, ::1 or
//     localhost; metrics tell how a machine is used, so they are served to
//     that machine only (CheckLoopback).
package promtext
