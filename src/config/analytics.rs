//! `[analytics]`: zones and lines that tracked objects are tested against (the analytics
//! stage, `ovanalytics`). Data only; [`AnalyticsConfig::validate`] checks the geometry.
//!
//! ```toml
//! [[analytics.zones]]
//! name = "loading_bay"
//! polygon = [[0.10, 0.55], [0.45, 0.55], [0.45, 0.95], [0.10, 0.95]]
//! classes = ["person", "car"]
//! loiter_seconds = 30
//! max_objects = 5
//!
//! [[analytics.lines]]
//! name = "door"
//! points = [[0.5, 0.0], [0.5, 1.0]]
//! in = [1.0, 0.0]
//! ```

use crate::geometry::{self, Point};
use serde::{Deserialize, Serialize};

/// Default frames a test point must be inside (or outside) a zone before it counts.
pub const DEFAULT_INERTIA: u32 = 3;
/// Most zones, and most lines, in one configuration.
pub const MAX_ZONES: usize = 64;
pub const MAX_LINES: usize = 64;
/// Most corners of one zone polygon.
pub const MAX_POLYGON_POINTS: usize = 64;
/// Largest `inertia` (frames).
pub const MAX_INERTIA: u32 = 1000;
/// Largest pixel coordinate accepted with `units = "pixels"`.
pub const MAX_PIXEL_COORDINATE: f32 = 16_384.0;

/// Zones and lines of one source (or of every source: `[analytics]` at the top level; a
/// `[[sources]]` entry's own `analytics` replaces it for that source).
#[derive(Debug, Clone, Default, PartialEq, Deserialize, Serialize)]
#[serde(deny_unknown_fields)]
#[cfg_attr(feature = "cli", derive(schemars::JsonSchema))]
pub struct AnalyticsConfig {
    #[serde(default)]
    pub zones: Vec<ZoneConfig>,
    #[serde(default)]
    pub lines: Vec<LineConfig>,
}

/// How the coordinates of a zone or line are given.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Deserialize, Serialize)]
#[cfg_attr(feature = "cli", derive(utoipa::ToSchema))]
#[serde(rename_all = "lowercase")]
#[cfg_attr(feature = "cli", derive(schemars::JsonSchema))]
pub enum Units {
    /// Fractions of the frame width (x) and height (y), in `[0, 1]`.
    #[default]
    Normalized,
    /// Pixels of the source's frames (x right, y down from the top-left corner).
    Pixels,
}

/// The point of an object's box that is tested against zones and lines.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Deserialize, Serialize)]
#[cfg_attr(feature = "cli", derive(utoipa::ToSchema))]
#[serde(rename_all = "snake_case")]
#[cfg_attr(feature = "cli", derive(schemars::JsonSchema))]
pub enum TestPoint {
    /// Middle of the box's bottom edge: where a person or car touches the ground.
    #[default]
    BottomCenter,
    /// Middle of the box.
    Center,
}

/// `[[analytics.zones]]`: a polygon; objects entering, leaving, dwelling, crowding.
#[derive(Debug, Clone, PartialEq, Deserialize, Serialize)]
#[cfg_attr(feature = "cli", derive(utoipa::ToSchema))]
#[serde(deny_unknown_fields)]
#[cfg_attr(feature = "cli", derive(schemars::JsonSchema))]
pub struct ZoneConfig {
    pub name: String,
    /// Corners `[x, y]` in order (≥ 3, not self-intersecting), in `units`.
    #[cfg_attr(feature = "cli", schema(value_type = Vec<[f32; 2]>))]
    pub polygon: Vec<Point>,
    /// Only objects of these labels, each one of the model's (others are refused); default: all.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub classes: Option<Vec<String>>,
    /// Frames the test point must be inside (outside) before the object has entered (left).
    #[serde(default = "default_inertia")]
    #[cfg_attr(feature = "cli", schemars(range(min = 1, max = MAX_INERTIA)))]
    pub inertia: u32,
    /// `loitering` once per visit after this many seconds inside (stream time).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[cfg_attr(feature = "cli", schemars(range(max = crate::config::MAX_SECONDS), extend("exclusiveMinimum" = 0.0)))]
    pub loiter_seconds: Option<f64>,
    /// `crowding` when more than this many objects are inside at once.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub max_objects: Option<u32>,
    #[serde(default)]
    pub point: TestPoint,
    #[serde(default)]
    pub units: Units,
}

/// `[[analytics.lines]]`: a directed segment; objects crossing it `in` or `out`.
#[derive(Debug, Clone, PartialEq, Deserialize, Serialize)]
#[cfg_attr(feature = "cli", derive(utoipa::ToSchema))]
#[serde(deny_unknown_fields)]
#[cfg_attr(feature = "cli", derive(schemars::JsonSchema))]
pub struct LineConfig {
    pub name: String,
    /// The segment's two ends `[x, y]`, first to second, in `units`.
    #[cfg_attr(feature = "cli", schema(value_type = Vec<[f32; 2]>))]
    pub points: Vec<Point>,
    /// The direction of travel that counts as `in` (any length, not along the line); default:
    /// second point minus first, turned 90° clockwise on screen (x right, y down).
    #[serde(default, rename = "in", skip_serializing_if = "Option::is_none")]
    #[cfg_attr(feature = "cli", schema(value_type = Option<[f32; 2]>))]
    pub in_direction: Option<Point>,
    /// Only objects of these labels, each one of the model's (others are refused); default: all.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub classes: Option<Vec<String>>,
    #[serde(default)]
    pub point: TestPoint,
    #[serde(default)]
    pub units: Units,
}

fn default_inertia() -> u32 {
    DEFAULT_INERTIA
}

impl ZoneConfig {
    /// A zone `name` over `polygon` (normalized), every other key at its default.
    pub fn new(name: impl Into<String>, polygon: Vec<Point>) -> Self {
        ZoneConfig {
            name: name.into(),
            polygon,
            classes: None,
            inertia: DEFAULT_INERTIA,
            loiter_seconds: None,
            max_objects: None,
            point: TestPoint::default(),
            units: Units::default(),
        }
    }
}

impl LineConfig {
    /// A line `name` from `from` to `to` (normalized), every other key at its default.
    pub fn new(name: impl Into<String>, from: Point, to: Point) -> Self {
        LineConfig {
            name: name.into(),
            points: vec![from, to],
            in_direction: None,
            classes: None,
            point: TestPoint::default(),
            units: Units::default(),
        }
    }

    /// The `in` direction: as given, or the default (P2 − P1 turned 90° clockwise on screen).
    pub fn in_vector(&self) -> Point {
        self.in_direction.unwrap_or_else(|| {
            let (a, b) = (self.points[0], self.points[1]);
            let d = [b[0] - a[0], b[1] - a[1]];
            [-d[1], d[0]]
        })
    }
}

impl Units {
    /// `p` as fractions of a `width` x `height` frame.
    pub fn normalize(self, p: Point, width: u32, height: u32) -> Point {
        match self {
            Units::Normalized => p,
            Units::Pixels => [p[0] / width.max(1) as f32, p[1] / height.max(1) as f32],
        }
    }
}

/// Each zone's and line's `classes` filter, named as errors name them (`` zone `door` ``,
/// `` line `gate` ``): what is checked against a model's labels (here and by the service).
pub fn class_filters<'a>(
    zones: &'a [ZoneConfig],
    lines: &'a [LineConfig],
) -> impl Iterator<Item = (String, &'a Option<Vec<String>>)> {
    let zones = zones
        .iter()
        .map(|z| (format!("zone `{}`", z.name), &z.classes));
    zones.chain(
        lines
            .iter()
            .map(|l| (format!("line `{}`", l.name), &l.classes)),
    )
}

impl AnalyticsConfig {
    /// The `[analytics]` tables of a TOML document — a pipeline file, or a file with only
    /// `[[analytics.zones]]` / `[[analytics.lines]]` tables (other tables are ignored),
    /// validated.
    ///
    /// # Errors
    /// The TOML error (with line) or the validation message.
    pub fn from_toml_tables(text: &str) -> Result<Self, String> {
        #[derive(Deserialize)]
        struct Tables {
            #[serde(default)]
            analytics: AnalyticsConfig,
        }
        let t: Tables = toml::from_str(text).map_err(|e| e.to_string())?;
        t.analytics.validate()?;
        Ok(t.analytics)
    }

    /// The first zone or line whose `classes` names a label the model does not have, as a
    /// message naming it, the class and the model's labels (`None` when all are known).
    pub fn unknown_class(&self, labels: &[impl AsRef<str>]) -> Option<String> {
        class_filters(&self.zones, &self.lines).find_map(|(what, classes)| {
            let c = classes
                .iter()
                .flatten()
                .find(|c| !labels.iter().any(|l| l.as_ref() == c.as_str()))?;
            Some(super::not_a_class(&what, c, labels))
        })
    }

    /// Whether there is nothing to analyze.
    pub fn is_empty(&self) -> bool {
        self.zones.is_empty() && self.lines.is_empty()
    }

    /// Checks every zone and line.
    ///
    /// # Errors
    /// A message naming the zone or line and what is wrong: fewer than 3 polygon points, a
    /// self-intersecting polygon, a line without exactly 2 distinct points, coordinates outside
    /// `[0, 1]` (normalized) or `[0, 16384]` (pixels), an `in` direction along the line, a
    /// duplicate or invalid name, empty class names, or a count or duration out of range.
    pub fn validate(&self) -> Result<(), String> {
        if self.zones.len() > MAX_ZONES || self.lines.len() > MAX_LINES {
            return Err(format!(
                "analytics: {} zones and {} lines; at most {MAX_ZONES} and {MAX_LINES}",
                self.zones.len(),
                self.lines.len()
            ));
        }
        let mut names = std::collections::HashSet::new();
        for z in &self.zones {
            let what = format!("analytics zone `{}`", z.name);
            check_name(&z.name, &what, &mut names)?;
            if z.polygon.len() > MAX_POLYGON_POINTS {
                return Err(format!(
                    "{what}: polygon has {} points; at most {MAX_POLYGON_POINTS}",
                    z.polygon.len()
                ));
            }
            check_points(&z.polygon, z.units, &what)?;
            if let Some(problem) = geometry::polygon_problem(&z.polygon) {
                return Err(format!("{what}: polygon {problem}"));
            }
            check_classes(z.classes.as_deref(), &what)?;
            if !(1..=MAX_INERTIA).contains(&z.inertia) {
                return Err(format!(
                    "{what}: inertia = {}; expected 1 to {MAX_INERTIA} frames",
                    z.inertia
                ));
            }
            if let Some(s) = z.loiter_seconds {
                if !(s > 0.0 && s <= crate::config::MAX_SECONDS) {
                    return Err(format!(
                        "{what}: loiter_seconds = {s}; expected seconds in (0, {}]",
                        crate::config::MAX_SECONDS
                    ));
                }
            }
        }
        let mut line_names = std::collections::HashSet::new();
        for l in &self.lines {
            let what = format!("analytics line `{}`", l.name);
            check_name(&l.name, &what, &mut line_names)?;
            if l.points.len() != 2 {
                return Err(format!(
                    "{what}: points has {} point(s); a line has exactly 2",
                    l.points.len()
                ));
            }
            check_points(&l.points, l.units, &what)?;
            let (a, b) = (l.points[0], l.points[1]);
            if a == b {
                return Err(format!("{what}: zero-length line (both points are {a:?})"));
            }
            check_classes(l.classes.as_deref(), &what)?;
            let v = l.in_vector();
            if !v.iter().all(|c| c.is_finite()) || geometry::length(v) == 0.0 {
                return Err(format!("{what}: `in` = {v:?} has no direction"));
            }
            let along = [b[0] - a[0], b[1] - a[1]];
            let sin = (along[0] * v[1] - along[1] * v[0])
                / (geometry::length(along) * geometry::length(v));
            if sin.abs() < 1e-3 {
                return Err(format!(
                    "{what}: `in` = {v:?} runs along the line; it must point across it"
                ));
            }
        }
        Ok(())
    }
}

fn check_name(
    name: &str,
    what: &str,
    seen: &mut std::collections::HashSet<String>,
) -> Result<(), String> {
    if name.len() > 64 || !crate::config::names::valid_name(name) {
        return Err(format!(
            "{what}: invalid name (1 to 64 letters, digits, `.`, `_`, `-`; not starting with `.`)"
        ));
    }
    if !seen.insert(name.to_string()) {
        return Err(format!("{what}: the name is used twice"));
    }
    Ok(())
}

fn check_points(points: &[Point], units: Units, what: &str) -> Result<(), String> {
    let max = match units {
        Units::Normalized => 1.0,
        Units::Pixels => MAX_PIXEL_COORDINATE,
    };
    for (i, p) in points.iter().enumerate() {
        if !p.iter().all(|c| c.is_finite() && (0.0..=max).contains(c)) {
            let hint = match units {
                Units::Normalized => {
                    " (normalized units: fractions of the frame; set units = \"pixels\" for pixels)"
                }
                Units::Pixels => "",
            };
            return Err(format!(
                "{what}: point {} = {p:?} is outside [0, {max}]{hint}",
                i + 1
            ));
        }
    }
    Ok(())
}

fn check_classes(classes: Option<&[String]>, what: &str) -> Result<(), String> {
    match classes {
        Some(c) if c.iter().any(|c| c.trim().is_empty()) => {
            Err(format!("{what}: classes has an empty name"))
        }
        _ => Ok(()),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn parse(text: &str) -> Result<AnalyticsConfig, String> {
        let c: AnalyticsConfig = toml::from_str(text).map_err(|e| e.to_string())?;
        c.validate().map(|()| c)
    }

    #[test]
    fn the_issue_example_parses_with_defaults() {
        let c = parse(
            r#"
            [[zones]]
            name = "loading_bay"
            polygon = [[0.10, 0.55], [0.45, 0.55], [0.45, 0.95], [0.10, 0.95]]
            classes = ["person", "car"]
            loiter_seconds = 30
            max_objects = 5
            [[lines]]
            name = "door"
            points = [[0.5, 0.0], [0.5, 1.0]]
            in = [1.0, 0.0]
            classes = ["person"]
            "#,
        )
        .unwrap();
        assert_eq!(c.zones[0].inertia, DEFAULT_INERTIA);
        assert_eq!(c.zones[0].point, TestPoint::BottomCenter);
        assert_eq!(c.lines[0].in_vector(), [1.0, 0.0]);
        // Default `in`: down the screen turned clockwise is towards the left.
        let l = LineConfig::new("d", [0.5, 0.0], [0.5, 1.0]);
        assert_eq!(l.in_vector(), [-1.0, 0.0]);
    }

    #[test]
    fn bad_geometry_is_named() {
        let zone = |poly: &str| format!("[[zones]]\nname = \"bay\"\npolygon = {poly}\n");
        let err = parse(&zone("[[0.1, 0.1], [0.5, 0.1]]")).unwrap_err();
        assert!(
            err.contains("zone `bay`") && err.contains("at least 3"),
            "{err}"
        );
        let err = parse(&zone("[[0.1, 0.1], [0.5, 0.5], [0.5, 0.1], [0.1, 0.5]]")).unwrap_err();
        assert!(err.contains("self-intersecting"), "{err}");
        let err = parse(&zone("[[0.1, 0.1], [1.5, 0.1], [0.5, 0.5]]")).unwrap_err();
        assert!(err.contains("outside [0, 1]"), "{err}");
        let pixels = format!(
            "{}units = \"pixels\"\n",
            zone("[[10, 10], [500, 10], [300, 400]]")
        );
        assert!(parse(&pixels).is_ok());
        let line = |pts: &str| format!("[[lines]]\nname = \"door\"\npoints = {pts}\n");
        let err = parse(&line("[[0.5, 0.5], [0.5, 0.5]]")).unwrap_err();
        assert!(
            err.contains("line `door`") && err.contains("zero-length"),
            "{err}"
        );
        let err = parse(&line("[[0.5, 0.5]]")).unwrap_err();
        assert!(err.contains("exactly 2"), "{err}");
        let along = format!("{}in = [0.0, 2.0]\n", line("[[0.5, 0.0], [0.5, 1.0]]"));
        assert!(parse(&along).unwrap_err().contains("along the line"));
        let twice = format!(
            "{}{}",
            line("[[0.5, 0.0], [0.5, 1.0]]"),
            line("[[0.2, 0.0], [0.2, 1.0]]")
        );
        assert!(parse(&twice).unwrap_err().contains("used twice"));
        let typo = format!(
            "{}clases = [\"person\"]\n",
            line("[[0.5, 0.0], [0.5, 1.0]]")
        );
        assert!(parse(&typo).unwrap_err().contains("clases"));
    }
}
