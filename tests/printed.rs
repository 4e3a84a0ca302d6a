//! What the tool prints and records must be safe and true: no secret from
//! the command line, no claim a run cannot make yet, no success that did
//! not happen, no file touched that the run refused. Each test is named
//! after something that once went wrong.

#[test]
fn run_ids_are_valid_v4_uuids() {
    for _ in 0..200 {
        let id = cognito_reset::journal::RunLine::now().run;
        let uuid = uuid::Uuid::parse_str(&id).unwrap();
        assert_eq!(uuid.get_version(), Some(uuid::Version::Random), "{id}");
        assert_eq!(uuid.get_variant(), uuid::Variant::RFC4122, "{id}");
        assert_eq!(uuid.hyphenated().to_string(), id);
    }
}
