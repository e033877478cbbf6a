//! Which models each feature needs (closures), and which fields close a cycle.

use std::collections::{BTreeMap, BTreeSet};

use crate::desc::{Description, Operation};
use crate::topics::TopicTable;
use crate::types::Ty;

/// The feature for every notification body: it turns every topic area feature
/// (`topics-users`, ...) on, and compiles the `*Topic*`/`*Notification` models no
/// operation or topic uses.
pub const TOPICS: &str = "topics";
/// The feature for every other model no operation reaches.
pub const UNREFERENCED: &str = "unreferenced";

/// The model graph of a description.
#[derive(Debug)]
pub struct Graph {
    /// Direct model references of each model's fields.
    deps: BTreeMap<String, BTreeSet<String>>,
    /// Strongly connected component of each model.
    component: BTreeMap<String, usize>,
    /// Size of each component.
    component_size: Vec<usize>,
}

impl Graph {
    /// Builds the graph; every referenced type must parse and every model must exist.
    pub fn new(desc: &Description) -> Result<Graph, String> {
        let mut deps = BTreeMap::new();
        for (name, model) in &desc.models {
            let mut direct = BTreeSet::new();
            for field in &model.fields {
                let ty = Ty::parse(&field.ty)
                    .map_err(|e| format!("model {name}, field {}: {e}", field.json))?;
                for m in ty.models() {
                    if !desc.models.contains_key(m) {
                        return Err(format!("model {name}, field {}: no model {m}", field.json));
                    }
                    direct.insert(m.to_owned());
                }
            }
            deps.insert(name.clone(), direct);
        }
        for op in &desc.operations {
            for m in operation_roots(op)? {
                if !desc.models.contains_key(&m) {
                    return Err(format!("operation {}: no model {m}", op.id()));
                }
            }
        }
        let (component, component_size) = components(&deps);
        Ok(Graph {
            deps,
            component,
            component_size,
        })
    }

    /// Every model reachable from `roots` (the roots included).
    pub fn closure<I, S>(&self, roots: I) -> BTreeSet<String>
    where
        I: IntoIterator<Item = S>,
        S: AsRef<str>,
    {
        let mut seen = BTreeSet::new();
        let mut todo: Vec<String> = roots.into_iter().map(|r| r.as_ref().to_owned()).collect();
        while let Some(m) = todo.pop() {
            if !seen.insert(m.clone()) {
                continue;
            }
            if let Some(next) = self.deps.get(&m) {
                todo.extend(next.iter().filter(|n| !seen.contains(*n)).cloned());
            }
        }
        seen
    }

    /// Whether a field of `model` holding `target` by value must be boxed: `target` is in
    /// the same cycle as `model` (a struct cannot contain itself).
    pub fn needs_box(&self, model: &str, target: &str) -> bool {
        match (self.component.get(model), self.component.get(target)) {
            (Some(a), Some(b)) if a == b => model == target || self.component_size[*a] > 1,
            _ => false,
        }
    }
}

/// The models an operation names directly (body, answer).
pub fn operation_roots(op: &Operation) -> Result<BTreeSet<String>, String> {
    let mut roots = BTreeSet::new();
    let mut add = |ty: &str| -> Result<(), String> {
        let ty = Ty::parse(ty).map_err(|e| format!("operation {}: {e}", op.id()))?;
        roots.extend(ty.models().into_iter().map(str::to_owned));
        Ok(())
    };
    if let Some(body) = &op.body {
        add(&body.ty)?;
    }
    if let Some(returns) = &op.returns {
        add(returns)?;
    }
    for p in op
        .path_params
        .iter()
        .chain(&op.query_params)
        .chain(&op.header_params)
    {
        add(&p.ty)?;
    }
    Ok(roots)
}

/// The features of the generated crate and the models each one compiles.
#[derive(Debug)]
pub struct Features {
    /// Feature → the models it needs.
    pub models: BTreeMap<String, BTreeSet<String>>,
    /// Model → the features that need it (its `cfg(any(...))`).
    pub gates: BTreeMap<String, BTreeSet<String>>,
    /// Slice feature → its operations (`group.name`) and topic patterns.
    pub slices: BTreeMap<String, Vec<String>>,
    /// Topic area feature (`topics-users`) → its topic patterns.
    pub topic_areas: BTreeMap<String, Vec<String>>,
}

impl Features {
    /// One feature per group, the slices, [`TOPICS`], one per topic area (`topics-users`)
    /// and [`UNREFERENCED`]; every model ends up in at least one.
    ///
    /// [`TOPICS`] is the closure of the models of the description's topics and of the
    /// models no operation reaches that are named like notification bodies (`*Topic*`,
    /// `*Notification`; a few have no topic in the table); an area feature the closure of
    /// its topics' models.
    pub fn compute(
        desc: &Description,
        graph: &Graph,
        slices: &BTreeMap<String, Vec<String>>,
        topics: &TopicTable,
    ) -> Result<Features, String> {
        let mut models: BTreeMap<String, BTreeSet<String>> = BTreeMap::new();
        let mut by_id = BTreeMap::new();
        for op in &desc.operations {
            by_id.insert(op.id(), op);
            let roots = operation_roots(op)?;
            models
                .entry(op.group.clone())
                .or_default()
                .extend(graph.closure(&roots));
        }
        for group in desc.groups.keys() {
            models.entry(group.clone()).or_default();
        }
        let reachable: BTreeSet<String> = models.values().flatten().cloned().collect();
        let unreached: Vec<&String> = desc
            .models
            .keys()
            .filter(|m| !reachable.contains(*m))
            .collect();
        let named = unreached
            .iter()
            .filter(|m| m.contains("Topic") || m.ends_with("Notification"))
            .map(|m| m.as_str());
        let bodies = topics.entries.iter().map(|e| e.model.as_str());
        let topic_models = graph.closure(bodies.chain(named));
        let rest = graph.closure(unreached.iter().filter(|m| !topic_models.contains(**m)));
        models.insert(TOPICS.to_owned(), topic_models);
        models.insert(UNREFERENCED.to_owned(), rest);
        let mut topic_areas = BTreeMap::new();
        for (feature, entries) in topics.areas() {
            if models.contains_key(&feature) {
                return Err(format!(
                    "topic area {feature} has the name of another feature"
                ));
            }
            models.insert(
                feature.clone(),
                graph.closure(entries.iter().map(|e| e.model.as_str())),
            );
            topic_areas.insert(
                feature,
                entries.iter().map(|e| e.pattern.text.clone()).collect(),
            );
        }
        for (slice, ops) in slices {
            if models.contains_key(slice) {
                return Err(format!("slice {slice} has the name of another feature"));
            }
            let mut roots = BTreeSet::new();
            for id in ops {
                if is_topic_entry(id) {
                    let entry = topics
                        .entries
                        .iter()
                        .find(|e| e.pattern.text == *id)
                        .ok_or_else(|| format!("slice {slice}: no topic {id}"))?;
                    roots.insert(entry.model.clone());
                    continue;
                }
                let op = by_id
                    .get(id)
                    .ok_or_else(|| format!("slice {slice}: no operation {id}"))?;
                roots.extend(operation_roots(op)?);
            }
            models.insert(slice.clone(), graph.closure(&roots));
        }
        let mut gates: BTreeMap<String, BTreeSet<String>> = BTreeMap::new();
        for (feature, set) in &models {
            for m in set {
                gates.entry(m.clone()).or_default().insert(feature.clone());
            }
        }
        // `topics` turns every area feature on (Cargo), so a model an area compiles needs
        // only the area in its gate.
        for gate in gates.values_mut() {
            if gate.iter().any(|f| topic_areas.contains_key(f)) {
                gate.remove(TOPICS);
            }
        }
        if let Some(m) = desc.models.keys().find(|m| !gates.contains_key(*m)) {
            return Err(format!("model {m} is in no feature"));
        }
        Ok(Features {
            models,
            gates,
            slices: slices.clone(),
            topic_areas,
        })
    }

    /// `cfg(any(feature = "a", ...))` for a model.
    pub fn cfg(&self, model: &str) -> String {
        cfg_any(self.gates.get(model).into_iter().flatten())
    }
}

/// Whether an entry of a slice is a topic pattern (`v2.users.{id}.presence`) rather than
/// an operation (`group.name`).
pub fn is_topic_entry(entry: &str) -> bool {
    entry.starts_with("v2.")
}

/// `any(feature = "a", feature = "b")` for a set of features (`feature = "a"` for one).
pub fn cfg_any<'a>(features: impl IntoIterator<Item = &'a String>) -> String {
    let list: Vec<String> = features
        .into_iter()
        .map(|f| format!("feature = {f:?}"))
        .collect();
    match list.as_slice() {
        [one] => one.clone(),
        _ => format!("any({})", list.join(", ")),
    }
}

/// Tarjan's strongly connected components, iteratively (no recursion on deep chains).
fn components(deps: &BTreeMap<String, BTreeSet<String>>) -> (BTreeMap<String, usize>, Vec<usize>) {
    let names: Vec<&String> = deps.keys().collect();
    let index_of: BTreeMap<&str, usize> = names
        .iter()
        .enumerate()
        .map(|(i, n)| (n.as_str(), i))
        .collect();
    let edges: Vec<Vec<usize>> = names
        .iter()
        .map(|n| {
            deps[*n]
                .iter()
                .filter_map(|d| index_of.get(d.as_str()).copied())
                .collect()
        })
        .collect();
    let n = names.len();
    let mut index = vec![usize::MAX; n];
    let mut low = vec![0; n];
    let mut on_stack = vec![false; n];
    let mut stack = Vec::new();
    let mut comp = vec![usize::MAX; n];
    let mut sizes = Vec::new();
    let mut next = 0;
    for start in 0..n {
        if index[start] != usize::MAX {
            continue;
        }
        // (node, next edge to look at)
        let mut work = vec![(start, 0usize)];
        index[start] = next;
        low[start] = next;
        next += 1;
        stack.push(start);
        on_stack[start] = true;
        while let Some(&mut (v, ref mut edge)) = work.last_mut() {
            if let Some(&w) = edges[v].get(*edge) {
                *edge += 1;
                if index[w] == usize::MAX {
                    index[w] = next;
                    low[w] = next;
                    next += 1;
                    stack.push(w);
                    on_stack[w] = true;
                    work.push((w, 0));
                } else if on_stack[w] {
                    low[v] = low[v].min(index[w]);
                }
                continue;
            }
            work.pop();
            if let Some(&(parent, _)) = work.last() {
                low[parent] = low[parent].min(low[v]);
            }
            if low[v] == index[v] {
                let id = sizes.len();
                let mut size = 0;
                while let Some(w) = stack.pop() {
                    on_stack[w] = false;
                    comp[w] = id;
                    size += 1;
                    if w == v {
                        break;
                    }
                }
                sizes.push(size);
            }
        }
    }
    let component = names
        .iter()
        .enumerate()
        .map(|(i, name)| ((*name).clone(), comp[i]))
        .collect();
    (component, sizes)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn deps(edges: &[(&str, &[&str])]) -> BTreeMap<String, BTreeSet<String>> {
        edges
            .iter()
            .map(|(a, bs)| (a.to_string(), bs.iter().map(|b| b.to_string()).collect()))
            .collect()
    }

    #[test]
    fn components_find_cycles_and_self_references() {
        let d = deps(&[
            ("A", &["B"]),
            ("B", &["C"]),
            ("C", &["A", "D"]),
            ("D", &["D"]),
            ("E", &["A"]),
        ]);
        let (comp, sizes) = components(&d);
        assert_eq!(comp["A"], comp["B"]);
        assert_eq!(comp["B"], comp["C"]);
        assert_ne!(comp["A"], comp["D"]);
        assert_ne!(comp["A"], comp["E"]);
        assert_eq!(sizes[comp["A"]], 3);
        assert_eq!(sizes[comp["D"]], 1);
        let graph = Graph {
            deps: d,
            component: comp,
            component_size: sizes,
        };
        assert!(graph.needs_box("A", "B"));
        assert!(graph.needs_box("D", "D"));
        assert!(!graph.needs_box("E", "A"));
        assert!(!graph.needs_box("C", "D"));
        assert_eq!(
            graph.closure(["E"]).into_iter().collect::<Vec<_>>(),
            ["A", "B", "C", "D", "E"]
        );
        assert_eq!(graph.closure(["D"]).len(), 1);
    }

    #[test]
    fn cfg_lists_every_feature() {
        let f: Vec<String> = vec!["routing".into(), "users".into()];
        assert_eq!(
            cfg_any(&f),
            r#"any(feature = "routing", feature = "users")"#
        );
    }
}
