//! The two macros every generated model and enum is made of.

genesys_cloud_api::string_enum! {
    /// A test enum.
    Colour {
        /// `RED`
        Red = "RED",
        /// `dark-blue`
        DarkBlue = "dark-blue",
    }
}

#[test]
fn known_and_unknown_values_round_trip() {
    let known: Colour = serde_json::from_str("\"dark-blue\"").unwrap();
    assert_eq!(known, Colour::DarkBlue);
    assert_eq!(serde_json::to_string(&known).unwrap(), "\"dark-blue\"");
    let new: Colour = serde_json::from_str("\"ULTRAVIOLET\"").unwrap();
    assert_eq!(new, Colour::Unrecognized("ULTRAVIOLET".into()));
    assert_eq!(serde_json::to_string(&new).unwrap(), "\"ULTRAVIOLET\"");
    assert_eq!(Colour::Red.to_string(), "RED");
    assert!(serde_json::from_str::<Colour>("3").is_err());
}

genesys_cloud_api::model! {
    /// A test model.
    Thing {
        /// A name.
        name: String = "name",
        /// A keyword.
        r#type: String = "type",
        /// A nested thing.
        child: Box<Thing> = "child",
        /// A count.
        count: i64 = "countNA",
    }
    extra
}

#[test]
fn reads_and_writes_by_json_name_keeping_unknown_fields() {
    let json = serde_json::json!({
        "name": "a", "type": "t", "countNA": 2, "new": [1],
        "child": {"name": "b", "unknown": true},
    });
    let thing: Thing = serde_json::from_value(json.clone()).unwrap();
    assert_eq!(thing.name.as_deref(), Some("a"));
    assert_eq!(thing.r#type.as_deref(), Some("t"));
    assert_eq!(thing.count, Some(2));
    assert_eq!(thing.extra["new"], serde_json::json!([1]));
    assert_eq!(
        thing.child.as_ref().and_then(|c| c.name.as_deref()),
        Some("b")
    );
    assert_eq!(serde_json::to_value(&thing).unwrap(), json);
}

#[test]
fn null_is_none_and_none_is_left_out() {
    let thing: Thing = serde_json::from_str(r#"{"name": null}"#).unwrap();
    assert_eq!(thing, Thing::default());
    assert_eq!(serde_json::to_string(&thing).unwrap(), "{}");
}

#[test]
fn errors_name_the_field_path_after_the_value() {
    let err = serde_json::from_str::<Thing>(r#"{"child": {"child": {"countNA": "x"}}}"#)
        .unwrap_err()
        .to_string();
    assert!(
        err.starts_with("invalid type: string \"x\", expected i64"),
        "{err}"
    );
    assert!(err.contains("(at `child.child.countNA`)"), "{err}");
    assert!(serde_json::from_str::<Thing>("[1]").is_err());
}

/// `Debug` is written by the macros (so that it is `#[inline]`, compiled only where used);
/// it prints what `derive(Debug)` prints.
#[test]
fn debug_is_what_derive_prints() {
    #[derive(Debug)]
    #[allow(dead_code)]
    struct Derived {
        name: Option<String>,
        r#type: Option<String>,
        child: Option<Box<Thing>>,
        count: Option<i64>,
        extra: serde_json::Map<String, serde_json::Value>,
    }
    let thing: Thing =
        serde_json::from_str(r#"{"name": "a", "type": "t", "countNA": 3, "x": 1}"#).unwrap();
    let derived = Derived {
        name: thing.name.clone(),
        r#type: thing.r#type.clone(),
        child: None,
        count: thing.count,
        extra: thing.extra.clone(),
    };
    assert_eq!(
        format!("{thing:?}"),
        format!("{derived:?}").replacen("Derived", "Thing", 1)
    );
    assert_eq!(
        format!("{thing:#?}"),
        format!("{derived:#?}").replacen("Derived", "Thing", 1)
    );

    #[derive(Debug)]
    #[allow(dead_code)]
    enum DerivedColour {
        Red,
        DarkBlue,
        Unrecognized(String),
    }
    assert_eq!(
        format!("{:?}", Colour::DarkBlue),
        format!("{:?}", DerivedColour::DarkBlue)
    );
    assert_eq!(
        format!("{:?}", Colour::Unrecognized("X".into())),
        format!("{:?}", DerivedColour::Unrecognized("X".into()))
    );
    let _ = DerivedColour::Red;
}
