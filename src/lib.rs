//! dangle
