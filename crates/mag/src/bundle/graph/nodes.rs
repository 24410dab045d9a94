//! The node-building helpers of `generation_metagraph`: attribute values,
//! constant tensors, and [`Graph`], which appends `NodeDef`s in creation order and knows how
//! `tf.get_variable`, `tf.zeros`, `dynamic_rnn`'s loop frame and a `Saver` lay theirs out.

use prost::Message;

use crate::bundle::graph::shape::{BATCH, FRAME};
use crate::proto::graph::{
    AttrValue, BytesList, Collection, CollectionDef, ListValue, NodeDef, StringList, Value, VariableDef,
};
use crate::proto::{TensorProto, TensorShapeDim, TensorShapeProto};

/// `tensorflow.DataType` values used here.
pub mod dt {
    pub use crate::proto::{DT_FLOAT as FLOAT, DT_INT32 as INT32, DT_RESOURCE as RESOURCE, DT_STRING as STRING};
}

// ---- attribute helpers ----

fn attr(v: Value) -> AttrValue {
    AttrValue { value: Some(v) }
}
fn shape(dims: &[i64]) -> TensorShapeProto {
    TensorShapeProto {
        dim: dims.iter().map(|&size| TensorShapeDim { size, name: String::new() }).collect(),
        unknown_rank: false,
    }
}
pub(super) fn ty(t: i32) -> AttrValue {
    attr(Value::Type(t))
}
pub(super) fn int(i: i64) -> AttrValue {
    attr(Value::I(i))
}
pub(super) fn boolean(b: bool) -> AttrValue {
    attr(Value::B(b))
}
pub(super) fn string(s: &str) -> AttrValue {
    attr(Value::S(s.as_bytes().to_vec()))
}
pub(super) fn shape_attr(dims: &[i64]) -> AttrValue {
    attr(Value::Shape(shape(dims)))
}
pub(super) fn shapes(list: &[&[i64]]) -> AttrValue {
    attr(Value::List(ListValue { shape: list.iter().map(|d| shape(d)).collect(), ..Default::default() }))
}
fn unknown_shapes(n: usize) -> AttrValue {
    let s = TensorShapeProto { dim: vec![], unknown_rank: true };
    attr(Value::List(ListValue { shape: vec![s; n], ..Default::default() }))
}
fn types(t: i32, n: usize) -> AttrValue {
    attr(Value::List(ListValue { r#type: vec![t; n], ..Default::default() }))
}
pub(super) fn loc(node: &str) -> AttrValue {
    attr(Value::List(ListValue { s: vec![format!("loc:@{node}").into_bytes()], ..Default::default() }))
}

/// A `TensorProto` as `tf.constant` writes it: several values as `tensor_content`, one value
/// (possibly broadcast over `dims`) in the typed field.
fn int_tensor(dims: &[i64], vals: &[i32]) -> TensorProto {
    let mut t = TensorProto { dtype: dt::INT32, tensor_shape: Some(shape(dims)), ..Default::default() };
    if vals.len() > 1 {
        t.tensor_content = vals.iter().flat_map(|v| v.to_le_bytes()).collect();
    } else {
        t.int_val = vals.to_vec();
    }
    t
}
fn float_tensor(dims: &[i64], v: f32) -> TensorProto {
    TensorProto { dtype: dt::FLOAT, tensor_shape: Some(shape(dims)), float_val: vec![v], ..Default::default() }
}
fn string_tensor(dims: &[i64], vals: &[&str]) -> TensorProto {
    TensorProto {
        dtype: dt::STRING,
        tensor_shape: Some(shape(dims)),
        string_val: vals.iter().map(|s| s.as_bytes().to_vec()).collect(),
        ..Default::default()
    }
}

pub(super) fn dims(v: &[usize]) -> Vec<i64> {
    v.iter().map(|&d| d as i64).collect()
}

/// Glorot / Xavier uniform limit as TensorFlow computes it: `sqrt(3 / ((fan_in + fan_out) / 2))`
/// in float64, stored as float32.
fn glorot_limit(fan_in: usize, fan_out: usize) -> f32 {
    (3.0 / ((fan_in + fan_out) as f64 / 2.0)).sqrt() as f32
}

/// Nodes in creation order.
pub(super) struct Graph {
    pub(super) nodes: Vec<NodeDef>,
    /// Output count of each node, for the while context's value list.
    pub(super) outputs: Vec<usize>,
}

impl Graph {
    pub(super) fn add(
        &mut self,
        name: &str,
        op: &str,
        input: &[&str],
        attrs: Vec<(&str, AttrValue)>,
        outputs: usize,
    ) -> String {
        self.nodes.push(NodeDef {
            name: name.to_string(),
            op: op.to_string(),
            input: input.iter().map(|s| s.to_string()).collect(),
            device: String::new(),
            attr: attrs.into_iter().map(|(k, v)| (k.to_string(), v)).collect(),
        });
        self.outputs.push(outputs);
        name.to_string()
    }

    /// An int32 `Const`; `ctrl` is a control input (constants inside the loop hang off its pivot).
    pub(super) fn int_const(
        &mut self,
        name: &str,
        d: &[i64],
        vals: &[i32],
        ctrl: Option<&str>,
        class: Option<&str>,
    ) -> String {
        let mut a = vec![
            ("_output_shapes", shapes(&[d])),
            ("dtype", ty(dt::INT32)),
            ("value", attr(Value::Tensor(int_tensor(d, vals)))),
        ];
        if let Some(c) = class {
            a.push(("_class", loc(c)));
        }
        let ctrl = ctrl.map(|c| format!("^{c}"));
        let inputs: Vec<&str> = ctrl.iter().map(|s| s.as_str()).collect();
        self.add(name, "Const", &inputs, a, 1)
    }

    pub(super) fn float_const(
        &mut self,
        name: &str,
        d: &[i64],
        v: f32,
        ctrl: Option<&str>,
        class: Option<&str>,
    ) -> String {
        let mut a = vec![
            ("_output_shapes", shapes(&[d])),
            ("dtype", ty(dt::FLOAT)),
            ("value", attr(Value::Tensor(float_tensor(d, v)))),
        ];
        if let Some(c) = class {
            a.push(("_class", loc(c)));
        }
        let ctrl = ctrl.map(|c| format!("^{c}"));
        let inputs: Vec<&str> = ctrl.iter().map(|s| s.as_str()).collect();
        self.add(name, "Const", &inputs, a, 1)
    }

    fn string_const(&mut self, name: &str, vals: &[&str], device: &str) -> String {
        let d: &[i64] = if vals.len() == 1 && name.ends_with("filename/input") { &[] } else { &[vals.len() as i64] };
        let a = vec![
            ("_output_shapes", shapes(&[d])),
            ("dtype", ty(dt::STRING)),
            ("value", attr(Value::Tensor(string_tensor(d, vals)))),
        ];
        let n = self.add(name, "Const", &[], a, 1);
        self.nodes.last_mut().expect("just added").device = device.to_string();
        n
    }

    /// `ConcatV2` of two int32 vectors of length 1 (a shape `[a, b]`), with its axis.
    pub(super) fn concat_pair(&mut self, scope: &str, a: &str, b: &str) -> String {
        let axis = self.int_const(&format!("{scope}/axis"), &[], &[0], None, None);
        self.add(
            scope,
            "ConcatV2",
            &[a, b, &axis],
            vec![("N", int(2)), ("T", ty(dt::INT32)), ("Tidx", ty(dt::INT32)), ("_output_shapes", shapes(&[&[2]]))],
            1,
        )
    }

    /// `prefix/zeros`: a `[BATCH, h]` float zero tensor built with `Fill`, as `tf.zeros` does.
    pub(super) fn fill_zeros(&mut self, name: &str, dims_of: &str, h: i64) -> String {
        let value = self.float_const(&format!("{name}/Const"), &[], 0.0, None, None);
        self.add(
            name,
            "Fill",
            &[dims_of, &value],
            vec![("T", ty(dt::FLOAT)), ("_output_shapes", shapes(&[&[BATCH, h]])), ("index_type", ty(dt::INT32))],
            1,
        )
    }

    /// The permutation `[1, 0, 2]` as `dynamic_rnn` builds it (`concat([1, 0], range(2, rank))`).
    pub(super) fn batch_time_perm(&mut self, sfx: &str) -> String {
        let rank = self.int_const(&format!("rnn/Rank{sfx}"), &[], &[3], None, None);
        let start = self.int_const(&format!("rnn/range{sfx}/start"), &[], &[2], None, None);
        let delta = self.int_const(&format!("rnn/range{sfx}/delta"), &[], &[1], None, None);
        let range = self.add(
            &format!("rnn/range{sfx}"),
            "Range",
            &[&start, &rank, &delta],
            vec![("Tidx", ty(dt::INT32)), ("_output_shapes", shapes(&[&[1]]))],
            1,
        );
        let concat = format!("rnn/concat{}", if sfx.is_empty() { String::new() } else { format!("_{}", 2) });
        let values = self.int_const(&format!("{concat}/values_0"), &[2], &[1, 0], None, None);
        let axis = self.int_const(&format!("{concat}/axis"), &[], &[0], None, None);
        self.add(
            &concat,
            "ConcatV2",
            &[&values, &range, &axis],
            vec![("N", int(2)), ("T", ty(dt::INT32)), ("Tidx", ty(dt::INT32)), ("_output_shapes", shapes(&[&[3]]))],
            1,
        )
    }

    /// `x[0]` of a shape vector, as `StridedSlice` with `shrink_axis_mask` 1.
    pub(super) fn first(&mut self, scope: &str, x: &str) -> String {
        let s0 = self.int_const(&format!("{scope}/stack"), &[1], &[0], None, None);
        let s1 = self.int_const(&format!("{scope}/stack_1"), &[1], &[1], None, None);
        let s2 = self.int_const(&format!("{scope}/stack_2"), &[1], &[1], None, None);
        self.add(
            scope,
            "StridedSlice",
            &[x, &s0, &s1, &s2],
            vec![
                ("Index", ty(dt::INT32)),
                ("T", ty(dt::INT32)),
                ("_output_shapes", shapes(&[&[]])),
                ("begin_mask", int(0)),
                ("ellipsis_mask", int(0)),
                ("end_mask", int(0)),
                ("new_axis_mask", int(0)),
                ("shrink_axis_mask", int(1)),
            ],
            1,
        )
    }

    pub(super) fn shape_of(&mut self, name: &str, x: &str) -> String {
        self.add(
            name,
            "Shape",
            &[x],
            vec![("T", ty(dt::FLOAT)), ("_output_shapes", shapes(&[&[3]])), ("out_type", ty(dt::INT32))],
            1,
        )
    }

    /// An `Enter` into the loop frame.
    pub(super) fn enter(
        &mut self,
        name: &str,
        x: &str,
        t: i32,
        d: &[i64],
        constant: bool,
        class: Option<&str>,
    ) -> String {
        let mut a = vec![
            ("T", ty(t)),
            ("_output_shapes", shapes(&[d])),
            ("frame_name", string(FRAME)),
            ("is_constant", boolean(constant)),
            ("parallel_iterations", int(32)),
        ];
        if let Some(c) = class {
            a.push(("_class", loc(c)));
        }
        self.add(name, "Enter", &[x], a, 1)
    }

    /// A one-input float op of shape `d`.
    pub(super) fn unary(&mut self, name: &str, op: &str, x: &str, t: i32, d: &[i64]) -> String {
        self.add(name, op, &[x], vec![("T", ty(t)), ("_output_shapes", shapes(&[d]))], 1)
    }

    pub(super) fn binary(
        &mut self,
        name: &str,
        op: &str,
        x: &str,
        y: &str,
        t: i32,
        d: &[i64],
        class: Option<&str>,
    ) -> String {
        let mut a = vec![("T", ty(t)), ("_output_shapes", shapes(&[d]))];
        if let Some(c) = class {
            a.push(("_class", loc(c)));
        }
        self.add(name, op, &[x, y], a, 1)
    }

    /// A `VariableV2` with its initializer (`Initializer/random_uniform` for Glorot, or
    /// `Initializer/zeros`), `Assign` and `read`, as `tf.get_variable` builds them.
    /// Returns the initial value's node name.
    pub(super) fn variable(&mut self, name: &str, d: &[i64], glorot: bool, read_class: bool) -> String {
        let init = if glorot {
            let ru = format!("{name}/Initializer/random_uniform");
            let lim = glorot_limit(d[0] as usize, d[1] as usize);
            let shp = self.int_const(&format!("{ru}/shape"), &[2], &[d[0] as i32, d[1] as i32], None, Some(name));
            let min = self.float_const(&format!("{ru}/min"), &[], -lim, None, Some(name));
            let max = self.float_const(&format!("{ru}/max"), &[], lim, None, Some(name));
            let rnd = self.add(
                &format!("{ru}/RandomUniform"),
                "RandomUniform",
                &[&shp],
                vec![
                    ("T", ty(dt::INT32)),
                    ("_class", loc(name)),
                    ("_output_shapes", shapes(&[d])),
                    ("dtype", ty(dt::FLOAT)),
                    ("seed", int(0)),
                    ("seed2", int(0)),
                ],
                1,
            );
            let sub = self.binary(&format!("{ru}/sub"), "Sub", &max, &min, dt::FLOAT, &[], Some(name));
            let mul = self.binary(&format!("{ru}/mul"), "Mul", &rnd, &sub, dt::FLOAT, d, Some(name));
            self.binary(&ru, "AddV2", &mul, &min, dt::FLOAT, d, Some(name))
        } else if d.iter().product::<i64>() < 1000 {
            self.float_const(&format!("{name}/Initializer/zeros"), d, 0.0, None, Some(name))
        } else {
            // `tf.zeros` writes a constant below 1000 elements and a `Fill` from there on.
            let z = format!("{name}/Initializer/zeros");
            let dims32: Vec<i32> = d.iter().map(|&x| x as i32).collect();
            let shp = self.int_const(&format!("{z}/shape_as_tensor"), &[d.len() as i64], &dims32, None, Some(name));
            let zero = self.float_const(&format!("{z}/Const"), &[], 0.0, None, Some(name));
            self.add(
                &z,
                "Fill",
                &[&shp, &zero],
                vec![
                    ("T", ty(dt::FLOAT)),
                    ("_class", loc(name)),
                    ("_output_shapes", shapes(&[d])),
                    ("index_type", ty(dt::INT32)),
                ],
                1,
            )
        };
        self.add(
            name,
            "VariableV2",
            &[],
            vec![
                ("_class", loc(name)),
                ("_output_shapes", shapes(&[d])),
                ("container", string("")),
                ("dtype", ty(dt::FLOAT)),
                ("shape", shape_attr(d)),
                ("shared_name", string("")),
            ],
            1,
        );
        self.assign(&format!("{name}/Assign"), name, &init, d, false);
        let mut a = vec![("T", ty(dt::FLOAT)), ("_output_shapes", shapes(&[d]))];
        if read_class {
            a.push(("_class", loc(name)));
        }
        self.add(&format!("{name}/read"), "Identity", &[name], a, 1);
        init
    }

    fn assign(&mut self, name: &str, var: &str, value: &str, d: &[i64], manual: bool) -> String {
        let mut a = vec![
            ("T", ty(dt::FLOAT)),
            ("_class", loc(var)),
            ("_output_shapes", shapes(&[d])),
            ("use_locking", boolean(true)),
            ("validate_shape", boolean(true)),
        ];
        if manual {
            a.push(("_has_manual_control_dependencies", boolean(true)));
        }
        self.add(name, "Assign", &[var, value], a, 1)
    }

    /// A `tf.compat.v1.train.Saver` over `vars` (sorted by name): V2 (`SaveV2`) as the
    /// generator's restore builds it, or V1 (`SaveSlices`) as the bundle's export does.
    pub(super) fn saver(&mut self, scope: &str, vars: &[(String, Vec<i64>)], v1: bool) {
        let input = self.string_const(&format!("{scope}/filename/input"), &["model"], "");
        let pwd = |g: &mut Graph, name: &str, x: &str| {
            g.add(
                name,
                "PlaceholderWithDefault",
                &[x],
                vec![("_output_shapes", shapes(&[&[]])), ("dtype", ty(dt::STRING)), ("shape", shape_attr(&[]))],
                1,
            )
        };
        let filename = pwd(self, &format!("{scope}/filename"), &input);
        let file = pwd(self, &format!("{scope}/Const"), &filename);
        let names: Vec<&str> = vars.iter().map(|(n, _)| n.as_str()).collect();
        let empty = vec![""; vars.len()];
        let n = vars.len();
        let (save_name, names_name, slices_name) = if v1 {
            (format!("{scope}/save"), format!("{scope}/save/tensor_names"), format!("{scope}/save/shapes_and_slices"))
        } else {
            (
                format!("{scope}/SaveV2"),
                format!("{scope}/SaveV2/tensor_names"),
                format!("{scope}/SaveV2/shape_and_slices"),
            )
        };
        let tn = self.string_const(&names_name, &names, "");
        let sl = self.string_const(&slices_name, &empty, "");
        let mut inputs: Vec<&str> = vec![&file, &tn, &sl];
        inputs.extend(names.iter());
        let (op, types_attr) = if v1 { ("SaveSlices", "T") } else { ("SaveV2", "dtypes") };
        self.add(
            &save_name,
            op,
            &inputs,
            vec![(types_attr, types(dt::FLOAT, n)), ("_has_manual_control_dependencies", boolean(true))],
            0,
        );
        let ctrl = format!("^{save_name}");
        self.add(
            &format!("{scope}/control_dependency"),
            "Identity",
            &[&file, &ctrl],
            vec![("T", ty(dt::STRING)), ("_class", loc(&file)), ("_output_shapes", shapes(&[&[]]))],
            1,
        );
        let cpu = "/device:CPU:0";
        let rtn = self.string_const(&format!("{scope}/RestoreV2/tensor_names"), &names, cpu);
        let rsl = self.string_const(&format!("{scope}/RestoreV2/shape_and_slices"), &empty, cpu);
        let restore = self.add(
            &format!("{scope}/RestoreV2"),
            "RestoreV2",
            &[&file, &rtn, &rsl],
            vec![("_output_shapes", unknown_shapes(n)), ("dtypes", types(dt::FLOAT, n))],
            n,
        );
        self.nodes.last_mut().expect("just added").device = cpu.to_string();
        let mut assigns = Vec::new();
        for (k, (var, d)) in vars.iter().enumerate() {
            let name = if k == 0 { format!("{scope}/Assign") } else { format!("{scope}/Assign_{k}") };
            let value = if k == 0 { restore.clone() } else { format!("{restore}:{k}") };
            assigns.push(format!("^{}", self.assign(&name, var, &value, d, true)));
        }
        let ctrl: Vec<&str> = assigns.iter().map(|s| s.as_str()).collect();
        self.add(&format!("{scope}/restore_all"), "NoOp", &ctrl, vec![], 0);
    }
}

pub(super) fn node_list(v: Vec<String>) -> CollectionDef {
    CollectionDef { kind: Some(Collection::NodeList(StringList { value: v })) }
}

pub(super) fn variable_defs(names: &[(String, String)]) -> CollectionDef {
    let value = names
        .iter()
        .map(|(v, init)| {
            VariableDef {
                variable_name: format!("{v}:0"),
                initializer_name: format!("{v}/Assign"),
                snapshot_name: format!("{v}/read:0"),
                initial_value_name: format!("{init}:0"),
                trainable: true,
            }
            .encode_to_vec()
        })
        .collect();
    CollectionDef { kind: Some(Collection::BytesList(BytesList { value })) }
}
