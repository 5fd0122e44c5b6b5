pub mod ssd;
