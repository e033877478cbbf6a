//! Scaffolding shared by the examples: nothing here belongs in production code.
//!
//! Without `GENESYS_CLIENT_ID` in the environment, the examples run against the crate's
//! built-in fake of Genesys Cloud (`genesys_cloud::testkit`, a test double) so that they work
//! on a fresh machine. With credentials, this does nothing and the examples talk to the org.
