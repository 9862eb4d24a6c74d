//! Realistic CloudTrail workloads (placeholder until written).
