// Package bwe estimates how much a subscriber's downlink can carry and shares that among
// the subscriber's tracks. It is pure logic: no goroutines, locks, sockets or clocks — every
// call carries the time — so its owner (a subscriber in package sfu) can drive it from
// real feedback and tests can drive it from a script.
//
// The estimator follows the shape of Google Congestion Control
// (draft-ietf-rmcat-gcc-02): a delay-based part fed by transport-wide congestion control
// feedback (draft-holmer-rmcat-transport-wide-cc-extensions-01) that watches the trend of
// one-way delay variation, and a loss-based part; the estimate is the smaller of the two.
package bwe
