//! The `MetaGraphDef` Magenta writes into a Performance RNN bundle, built in code for any
//! layer sizes, so a model of any shape becomes a `.mag` without TensorFlow and without a
//! template bundle.
//!
//! Magenta's `performance_rnn_generate --save_generator_bundle` builds the generation graph
//! of `events_rnn_graph.py` (mode `generate`, batch size 1, every cell a `BasicLSTMCell` in a
//! `DropoutWrapper` of keep probability 1.0, inside `tf.nn.dynamic_rnn`), restores it, and
//! exports it with a second, V1 `Saver`. [`generation_metagraph`] writes the same graph node
//! for node, in the order TensorFlow 2.15 creates them: names, ops, inputs, attributes (with
//! `_output_shapes`), the `while_context`, the variable collections and the `SaverDef`. The
//! structure was read off the two fixture metagraphs Magenta wrote (`[64, 64]` and
//! `[512, 512, 512]`); a test rebuilds both and compares every node and collection.
//!
//! Only what Magenta never reads from a bundle is left out: `meta_info_def` (TensorFlow's
//! version strings and the stripped op list, which `import_meta_graph` only uses to drop
//! attributes an older TensorFlow does not know).

use std::collections::BTreeMap;

use prost::Message;

use crate::checkpoint::Checkpoint;
use crate::error::{MagError, Result};
use crate::proto::{TensorProto, TensorShapeDim, TensorShapeProto, VersionDef};

/// `tensorflow.DataType` values used here.
pub mod dt {
    pub const FLOAT: i32 = 1;
    pub const INT32: i32 = 3;
    pub const STRING: i32 = 7;
    pub const RESOURCE: i32 = 20;
}

/// `tensorflow.MetaGraphDef` (`meta_info_def` is read as its scalar fields only).
#[derive(Clone, PartialEq, ::prost::Message)]
pub struct MetaGraphDef {
    #[prost(message, optional, tag = "1")]
    pub meta_info_def: Option<MetaInfoDef>,
    #[prost(message, optional, tag = "2")]
    pub graph_def: Option<GraphDef>,
    #[prost(message, optional, tag = "3")]
    pub saver_def: Option<SaverDef>,
    #[prost(btree_map = "string, message", tag = "4")]
    pub collection_def: BTreeMap<String, CollectionDef>,
}

#[derive(Clone, PartialEq, ::prost::Message)]
pub struct MetaInfoDef {
    #[prost(string, tag = "1")]
    pub meta_graph_version: String,
    #[prost(string, repeated, tag = "4")]
    pub tags: Vec<String>,
    #[prost(string, tag = "5")]
    pub tensorflow_version: String,
    #[prost(string, tag = "6")]
    pub tensorflow_git_version: String,
}

#[derive(Clone, PartialEq, ::prost::Message)]
pub struct GraphDef {
    #[prost(message, repeated, tag = "1")]
    pub node: Vec<NodeDef>,
    #[prost(message, optional, tag = "4")]
    pub versions: Option<VersionDef>,
}

#[derive(Clone, PartialEq, ::prost::Message)]
pub struct NodeDef {
    #[prost(string, tag = "1")]
    pub name: String,
    #[prost(string, tag = "2")]
    pub op: String,
    #[prost(string, repeated, tag = "3")]
    pub input: Vec<String>,
    #[prost(string, tag = "4")]
    pub device: String,
    #[prost(btree_map = "string, message", tag = "5")]
    pub attr: BTreeMap<String, AttrValue>,
}

/// `tensorflow.AttrValue` (all kinds but `func`).
#[derive(Clone, PartialEq, ::prost::Message)]
pub struct AttrValue {
    #[prost(oneof = "Value", tags = "1, 2, 3, 4, 5, 6, 7, 8, 9")]
    pub value: Option<Value>,
}

#[derive(Clone, PartialEq, ::prost::Oneof)]
pub enum Value {
    #[prost(message, tag = "1")]
    List(ListValue),
    #[prost(bytes, tag = "2")]
    S(Vec<u8>),
    #[prost(int64, tag = "3")]
    I(i64),
    #[prost(float, tag = "4")]
    F(f32),
    #[prost(bool, tag = "5")]
    B(bool),
    #[prost(int32, tag = "6")]
    Type(i32),
    #[prost(message, tag = "7")]
    Shape(TensorShapeProto),
    #[prost(message, tag = "8")]
    Tensor(TensorProto),
    #[prost(string, tag = "9")]
    Placeholder(String),
}

#[derive(Clone, PartialEq, ::prost::Message)]
pub struct ListValue {
    #[prost(bytes = "vec", repeated, tag = "2")]
    pub s: Vec<Vec<u8>>,
    #[prost(int64, repeated, tag = "3")]
    pub i: Vec<i64>,
    #[prost(float, repeated, tag = "4")]
    pub f: Vec<f32>,
    #[prost(bool, repeated, tag = "5")]
    pub b: Vec<bool>,
    #[prost(int32, repeated, tag = "6")]
    pub r#type: Vec<i32>,
    #[prost(message, repeated, tag = "7")]
    pub shape: Vec<TensorShapeProto>,
    #[prost(message, repeated, tag = "8")]
    pub tensor: Vec<TensorProto>,
}

#[derive(Clone, PartialEq, ::prost::Message)]
pub struct SaverDef {
    #[prost(string, tag = "1")]
    pub filename_tensor_name: String,
    #[prost(string, tag = "2")]
    pub save_tensor_name: String,
    #[prost(string, tag = "3")]
    pub restore_op_name: String,
    #[prost(int32, tag = "4")]
    pub max_to_keep: i32,
    #[prost(bool, tag = "5")]
    pub sharded: bool,
    #[prost(float, tag = "6")]
    pub keep_checkpoint_every_n_hours: f32,
    /// `SaverDef.CheckpointFormatVersion`: 1 = V1.
    #[prost(int32, tag = "7")]
    pub version: i32,
}

/// `tensorflow.CollectionDef`, the two kinds Magenta's graph uses.
#[derive(Clone, PartialEq, ::prost::Message)]
pub struct CollectionDef {
    #[prost(oneof = "Collection", tags = "1, 2")]
    pub kind: Option<Collection>,
}

#[derive(Clone, PartialEq, ::prost::Oneof)]
pub enum Collection {
    #[prost(message, tag = "1")]
    NodeList(StringList),
    #[prost(message, tag = "2")]
    BytesList(BytesList),
}

#[derive(Clone, PartialEq, ::prost::Message)]
pub struct StringList {
    #[prost(string, repeated, tag = "1")]
    pub value: Vec<String>,
}

#[derive(Clone, PartialEq, ::prost::Message)]
pub struct BytesList {
    #[prost(bytes = "vec", repeated, tag = "1")]
    pub value: Vec<Vec<u8>>,
}

/// `tensorflow.VariableDef`, an entry of the `variables` collections.
#[derive(Clone, PartialEq, ::prost::Message)]
pub struct VariableDef {
    #[prost(string, tag = "1")]
    pub variable_name: String,
    #[prost(string, tag = "2")]
    pub initializer_name: String,
    #[prost(string, tag = "3")]
    pub snapshot_name: String,
    #[prost(string, tag = "6")]
    pub initial_value_name: String,
    #[prost(bool, tag = "7")]
    pub trainable: bool,
}

/// `tensorflow.WhileContextDef`, the `while_context` collection's entry.
#[derive(Clone, PartialEq, ::prost::Message)]
pub struct WhileContextDef {
    #[prost(string, tag = "1")]
    pub context_name: String,
    #[prost(int32, tag = "2")]
    pub parallel_iterations: i32,
    #[prost(bool, tag = "3")]
    pub back_prop: bool,
    #[prost(bool, tag = "4")]
    pub swap_memory: bool,
    #[prost(string, tag = "5")]
    pub pivot_name: String,
    #[prost(string, tag = "6")]
    pub pivot_for_pred_name: String,
    #[prost(string, tag = "7")]
    pub pivot_for_body_name: String,
    #[prost(string, repeated, tag = "8")]
    pub loop_exit_names: Vec<String>,
    #[prost(message, optional, tag = "9")]
    pub values_def: Option<ValuesDef>,
    #[prost(string, repeated, tag = "10")]
    pub loop_enter_names: Vec<String>,
    #[prost(string, tag = "11")]
    pub maximum_iterations_name: String,
}

#[derive(Clone, PartialEq, ::prost::Message)]
pub struct ValuesDef {
    #[prost(string, repeated, tag = "1")]
    pub values: Vec<String>,
    #[prost(btree_map = "string, string", tag = "2")]
    pub external_values: BTreeMap<String, String>,
}

/// The shape of a Performance RNN's generation graph.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct GraphShape {
    /// Width of the input of layer 0 (the encoder's `input_size`).
    pub input_size: usize,
    /// Hidden size of each LSTM layer, bottom first.
    pub layers: Vec<usize>,
    /// Logits (the encoder's `num_classes`).
    pub num_classes: usize,
}

/// TensorFlow's graph version (`GraphDef.versions.producer`) of the fixture graphs (2.15).
const PRODUCER: i32 = 1645;
/// The batch size Magenta's generator builds its graph with (beam size × branch factor = 1).
const BATCH: i64 = 1;
const WHILE: &str = "rnn/while/";
const FRAME: &str = "rnn/while/while_context";

fn cell_scope(l: usize) -> String {
    format!("rnn/multi_rnn_cell/cell_{l}/basic_lstm_cell/")
}

impl GraphShape {
    fn check(&self) -> Result<()> {
        if self.layers.is_empty() || self.layers.contains(&0) || self.input_size == 0 || self.num_classes == 0 {
            return Err(MagError::mismatch(format!(
                "cannot build a graph for input {}, layers {:?}, {} classes",
                self.input_size, self.layers, self.num_classes
            )));
        }
        Ok(())
    }

    fn layer_input(&self, l: usize) -> usize {
        if l == 0 {
            self.input_size
        } else {
            self.layers[l - 1]
        }
    }

    fn top(&self) -> usize {
        *self.layers.last().unwrap_or(&0)
    }

    /// The graph's variables with their shapes, in the order the graph creates them.
    pub fn variables(&self) -> Vec<(String, Vec<usize>)> {
        let mut v = Vec::new();
        for (l, &h) in self.layers.iter().enumerate() {
            v.push((format!("{}kernel", cell_scope(l)), vec![self.layer_input(l) + h, 4 * h]));
            v.push((format!("{}bias", cell_scope(l)), vec![4 * h]));
        }
        v.push(("fully_connected/weights".into(), vec![self.top(), self.num_classes]));
        v.push(("fully_connected/biases".into(), vec![self.num_classes]));
        v
    }
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
fn ty(t: i32) -> AttrValue {
    attr(Value::Type(t))
}
fn int(i: i64) -> AttrValue {
    attr(Value::I(i))
}
fn boolean(b: bool) -> AttrValue {
    attr(Value::B(b))
}
fn string(s: &str) -> AttrValue {
    attr(Value::S(s.as_bytes().to_vec()))
}
fn shape_attr(dims: &[i64]) -> AttrValue {
    attr(Value::Shape(shape(dims)))
}
fn shapes(list: &[&[i64]]) -> AttrValue {
    attr(Value::List(ListValue { shape: list.iter().map(|d| shape(d)).collect(), ..Default::default() }))
}
fn unknown_shapes(n: usize) -> AttrValue {
    let s = TensorShapeProto { dim: vec![], unknown_rank: true };
    attr(Value::List(ListValue { shape: vec![s; n], ..Default::default() }))
}
fn types(t: i32, n: usize) -> AttrValue {
    attr(Value::List(ListValue { r#type: vec![t; n], ..Default::default() }))
}
fn loc(node: &str) -> AttrValue {
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

fn dims(v: &[usize]) -> Vec<i64> {
    v.iter().map(|&d| d as i64).collect()
}

/// Glorot / Xavier uniform limit as TensorFlow computes it: `sqrt(3 / ((fan_in + fan_out) / 2))`
/// in float64, stored as float32.
fn glorot_limit(fan_in: usize, fan_out: usize) -> f32 {
    (3.0 / ((fan_in + fan_out) as f64 / 2.0)).sqrt() as f32
}

/// Nodes in creation order.
struct Graph {
    nodes: Vec<NodeDef>,
    /// Output count of each node, for the while context's value list.
    outputs: Vec<usize>,
}

impl Graph {
    fn add(&mut self, name: &str, op: &str, input: &[&str], attrs: Vec<(&str, AttrValue)>, outputs: usize) -> String {
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
    fn int_const(&mut self, name: &str, d: &[i64], vals: &[i32], ctrl: Option<&str>, class: Option<&str>) -> String {
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

    fn float_const(&mut self, name: &str, d: &[i64], v: f32, ctrl: Option<&str>, class: Option<&str>) -> String {
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
    fn concat_pair(&mut self, scope: &str, a: &str, b: &str) -> String {
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
    fn fill_zeros(&mut self, name: &str, dims_of: &str, h: i64) -> String {
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
    fn batch_time_perm(&mut self, sfx: &str) -> String {
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
    fn first(&mut self, scope: &str, x: &str) -> String {
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

    fn shape_of(&mut self, name: &str, x: &str) -> String {
        self.add(
            name,
            "Shape",
            &[x],
            vec![("T", ty(dt::FLOAT)), ("_output_shapes", shapes(&[&[3]])), ("out_type", ty(dt::INT32))],
            1,
        )
    }

    /// An `Enter` into the loop frame.
    fn enter(&mut self, name: &str, x: &str, t: i32, d: &[i64], constant: bool, class: Option<&str>) -> String {
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
    fn unary(&mut self, name: &str, op: &str, x: &str, t: i32, d: &[i64]) -> String {
        self.add(name, op, &[x], vec![("T", ty(t)), ("_output_shapes", shapes(&[d]))], 1)
    }

    fn binary(&mut self, name: &str, op: &str, x: &str, y: &str, t: i32, d: &[i64], class: Option<&str>) -> String {
        let mut a = vec![("T", ty(t)), ("_output_shapes", shapes(&[d]))];
        if let Some(c) = class {
            a.push(("_class", loc(c)));
        }
        self.add(name, op, &[x, y], a, 1)
    }

    /// A `VariableV2` with its initializer (`Initializer/random_uniform` for Glorot, or
    /// `Initializer/zeros`), `Assign` and `read`, as `tf.get_variable` builds them.
    /// Returns the initial value's node name.
    fn variable(&mut self, name: &str, d: &[i64], glorot: bool, read_class: bool) -> String {
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
    fn saver(&mut self, scope: &str, vars: &[(String, Vec<i64>)], v1: bool) {
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

fn node_list(v: Vec<String>) -> CollectionDef {
    CollectionDef { kind: Some(Collection::NodeList(StringList { value: v })) }
}

fn variable_defs(names: &[(String, String)]) -> CollectionDef {
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

/// The generation graph Magenta exports into a bundle for a Performance RNN of this shape.
pub fn generation_metagraph(s: &GraphShape) -> Result<MetaGraphDef> {
    s.check()?;
    let mut g = Graph { nodes: Vec::new(), outputs: Vec::new() };
    let (input, classes, top) = (s.input_size as i64, s.num_classes as i64, s.top() as i64);
    let hs: Vec<i64> = s.layers.iter().map(|&h| h as i64).collect();
    let nl = hs.len();
    let sfx = |l: usize| if l == 0 { String::new() } else { format!("_{l}") };

    let inputs = g.add(
        "Placeholder",
        "Placeholder",
        &[],
        vec![
            ("_output_shapes", shapes(&[&[BATCH, -1, input]])),
            ("dtype", ty(dt::FLOAT)),
            ("shape", shape_attr(&[BATCH, -1, input])),
        ],
        1,
    );
    // DropoutWrapper(keep_prob 1.0) constants: input, state and output keep probabilities.
    for l in 0..nl {
        for c in ["Const", "Const_1", "Const_2"] {
            g.float_const(&format!("DropoutWrapperInit{}/{c}", sfx(l)), &[], 1.0, None, None);
        }
    }
    // cell.zero_state(1): per layer the (c, h) zeros, and the static shapes zero_state records.
    let mut zero_state = Vec::new();
    for (l, &h) in hs.iter().enumerate() {
        let p = format!("MultiRNNCellZeroState/DropoutWrapperZeroState{}/BasicLSTMCellZeroState", sfx(l));
        let mut pair = Vec::new();
        for (k, z) in [(0, "zeros"), (1, "zeros_1")] {
            let (ca, cb) = if k == 0 { ("Const", "Const_1") } else { ("Const_4", "Const_5") };
            if k == 1 {
                g.int_const(&format!("{p}/Const_2"), &[1], &[BATCH as i32], None, None);
                g.int_const(&format!("{p}/Const_3"), &[1], &[h as i32], None, None);
            }
            let a = g.int_const(&format!("{p}/{ca}"), &[1], &[BATCH as i32], None, None);
            let b = g.int_const(&format!("{p}/{cb}"), &[1], &[h as i32], None, None);
            let cat = g.concat_pair(&format!("{p}/concat{}", if k == 0 { "" } else { "_1" }), &a, &b);
            pair.push(g.fill_zeros(&format!("{p}/{z}"), &cat, h));
        }
        g.int_const(&format!("{p}/Const_6"), &[1], &[BATCH as i32], None, None);
        g.int_const(&format!("{p}/Const_7"), &[1], &[h as i32], None, None);
        zero_state.push(pair);
    }

    // dynamic_rnn: batch-major to time-major, the time length, the zero output.
    let perm = g.batch_time_perm("");
    let xt = g.add(
        "rnn/transpose",
        "Transpose",
        &[&inputs, &perm],
        vec![("T", ty(dt::FLOAT)), ("Tperm", ty(dt::INT32)), ("_output_shapes", shapes(&[&[-1, BATCH, input]]))],
        1,
    );
    let shp = g.shape_of("rnn/Shape", &xt);
    let time_steps = g.first("rnn/strided_slice", &shp);
    let a = g.int_const("rnn/Const", &[1], &[BATCH as i32], None, None);
    let b = g.int_const("rnn/Const_1", &[1], &[top as i32], None, None);
    let cat = g.concat_pair("rnn/concat_1", &a, &b);
    g.fill_zeros("rnn/zeros", &cat, top);
    let time = g.int_const("rnn/time", &[], &[0], None, None);
    let tensor_array = |g: &mut Graph, name: &str, width: i64, what: &str| {
        g.add(
            name,
            "TensorArrayV3",
            &[&time_steps],
            vec![
                ("_output_shapes", shapes(&[&[2], &[]])),
                ("clear_after_read", boolean(true)),
                ("dtype", ty(dt::FLOAT)),
                ("dynamic_size", boolean(false)),
                ("element_shape", shape_attr(&[BATCH, width])),
                ("identical_element_shapes", boolean(true)),
                ("tensor_array_name", string(&format!("rnn/dynamic_rnn/{what}_0"))),
            ],
            2,
        )
    };
    let out_ta = tensor_array(&mut g, "rnn/TensorArray", top, "output");
    let in_ta = tensor_array(&mut g, "rnn/TensorArray_1", input, "input");
    let ushp = g.shape_of("rnn/TensorArrayUnstack/Shape", &xt);
    let un = g.first("rnn/TensorArrayUnstack/strided_slice", &ushp);
    let start = g.int_const("rnn/TensorArrayUnstack/range/start", &[], &[0], None, None);
    let delta = g.int_const("rnn/TensorArrayUnstack/range/delta", &[], &[1], None, None);
    let urange = g.add(
        "rnn/TensorArrayUnstack/range",
        "Range",
        &[&start, &un, &delta],
        vec![("Tidx", ty(dt::INT32)), ("_output_shapes", shapes(&[&[-1]]))],
        1,
    );
    let in_ta_flow = format!("{in_ta}:1");
    let scatter = g.add(
        "rnn/TensorArrayUnstack/TensorArrayScatter/TensorArrayScatterV3",
        "TensorArrayScatterV3",
        &[&in_ta, &urange, &xt, &in_ta_flow],
        vec![("T", ty(dt::FLOAT)), ("_class", loc(&xt)), ("_output_shapes", shapes(&[&[]]))],
        1,
    );
    let mx = g.int_const("rnn/Maximum/x", &[], &[1], None, None);
    let maximum = g.binary("rnn/Maximum", "Maximum", &mx, &time_steps, dt::INT32, &[], None);
    let minimum = g.binary("rnn/Minimum", "Minimum", &time_steps, &maximum, dt::INT32, &[], None);

    // The while loop: loop variables (iteration counter, time, output TensorArray flow, the
    // state of each layer).
    let counter = g.int_const("rnn/while/iteration_counter", &[], &[0], None, None);
    let indexed = |base: &str, k: usize| if k == 0 { format!("{WHILE}{base}") } else { format!("{WHILE}{base}_{k}") };
    let nvars = 3 + 2 * nl;
    let mut var_in: Vec<(String, i32, Vec<i64>)> =
        vec![(counter, dt::INT32, vec![]), (time, dt::INT32, vec![]), (format!("{out_ta}:1"), dt::FLOAT, vec![])];
    for (l, &h) in hs.iter().enumerate() {
        for z in &zero_state[l] {
            var_in.push((z.clone(), dt::FLOAT, vec![BATCH, h]));
        }
    }
    for (k, (x, t, d)) in var_in.iter().enumerate() {
        g.enter(&indexed("Enter", k), x, *t, d, false, None);
    }
    for (k, (_, t, d)) in var_in.iter().enumerate() {
        let next = indexed("NextIteration", k);
        g.add(
            &indexed("Merge", k),
            "Merge",
            &[&indexed("Enter", k), &next],
            vec![("N", int(2)), ("T", ty(*t)), ("_output_shapes", shapes(&[d, &[]]))],
            2,
        );
    }
    let less_enter = g.enter("rnn/while/Less/Enter", &time_steps, dt::INT32, &[], true, None);
    let merge0 = indexed("Merge", 0);
    let less = g.binary("rnn/while/Less", "Less", &merge0, &less_enter, dt::INT32, &[], None);
    // Creation order puts `Less` before its `Enter`.
    let n = g.nodes.len();
    g.nodes.swap(n - 1, n - 2);
    g.outputs.swap(n - 1, n - 2);
    let less1_enter = g.enter("rnn/while/Less_1/Enter", &minimum, dt::INT32, &[], true, None);
    let less1 = g.binary("rnn/while/Less_1", "Less", &indexed("Merge", 1), &less1_enter, dt::INT32, &[], None);
    let n = g.nodes.len();
    g.nodes.swap(n - 1, n - 2);
    g.outputs.swap(n - 1, n - 2);
    let and =
        g.add("rnn/while/LogicalAnd", "LogicalAnd", &[&less, &less1], vec![("_output_shapes", shapes(&[&[]]))], 1);
    let cond = g.add("rnn/while/LoopCond", "LoopCond", &[&and], vec![("_output_shapes", shapes(&[&[]]))], 1);
    for (k, (_, t, d)) in var_in.iter().enumerate() {
        let m = indexed("Merge", k);
        g.add(
            &indexed("Switch", k),
            "Switch",
            &[&m, &cond],
            vec![("T", ty(*t)), ("_class", loc(&m)), ("_output_shapes", shapes(&[d, d]))],
            2,
        );
    }
    let mut ident = Vec::new();
    for (k, (_, t, d)) in var_in.iter().enumerate() {
        ident.push(g.unary(&indexed("Identity", k), "Identity", &format!("{}:1", indexed("Switch", k)), *t, d));
    }
    let pivot = ident[0].clone();
    let one = g.int_const("rnn/while/add/y", &[], &[1], Some(&pivot), None);
    let next_counter = g.binary("rnn/while/add", "AddV2", &pivot, &one, dt::INT32, &[], None);
    // input_ta.read(time)
    let read = g.add(
        "rnn/while/TensorArrayReadV3",
        "TensorArrayReadV3",
        &["rnn/while/TensorArrayReadV3/Enter", &ident[1], "rnn/while/TensorArrayReadV3/Enter_1"],
        vec![("_output_shapes", shapes(&[&[BATCH, input]])), ("dtype", ty(dt::FLOAT))],
        1,
    );
    g.enter("rnn/while/TensorArrayReadV3/Enter", &in_ta, dt::RESOURCE, &[2], true, None);
    g.enter("rnn/while/TensorArrayReadV3/Enter_1", &scatter, dt::FLOAT, &[], true, None);

    // The cells: variables outside the loop (created on the first call), the step inside.
    let mut initial_values = Vec::new();
    let mut x = read;
    let mut next_state = Vec::new();
    for (l, &h) in hs.iter().enumerate() {
        let v = cell_scope(l);
        let rows = s.layer_input(l) as i64 + h;
        let kernel = format!("{v}kernel");
        let bias = format!("{v}bias");
        initial_values.push((kernel.clone(), g.variable(&kernel, &[rows, 4 * h], true, false)));
        initial_values.push((bias.clone(), g.variable(&bias, &[4 * h], false, false)));
        let w = format!("{WHILE}{v}");
        let split_dim = g.int_const(&format!("{w}Const"), &[], &[1], Some(&pivot), None);
        let axis = g.int_const(&format!("{w}concat/axis"), &[], &[1], Some(&pivot), None);
        let (c_prev, h_prev) = (&ident[3 + 2 * l], &ident[4 + 2 * l]);
        let concat = g.add(
            &format!("{w}concat"),
            "ConcatV2",
            &[&x, h_prev, &axis],
            vec![
                ("N", int(2)),
                ("T", ty(dt::FLOAT)),
                ("Tidx", ty(dt::INT32)),
                ("_output_shapes", shapes(&[&[BATCH, rows]])),
            ],
            1,
        );
        let bh = [BATCH, h];
        let matmul = g.add(
            &format!("{w}MatMul"),
            "MatMul",
            &[&concat, &format!("{w}MatMul/Enter")],
            vec![
                ("T", ty(dt::FLOAT)),
                ("_output_shapes", shapes(&[&[BATCH, 4 * h]])),
                ("transpose_a", boolean(false)),
                ("transpose_b", boolean(false)),
            ],
            1,
        );
        g.enter(&format!("{w}MatMul/Enter"), &format!("{kernel}/read"), dt::FLOAT, &[rows, 4 * h], true, None);
        let biasadd = g.add(
            &format!("{w}BiasAdd"),
            "BiasAdd",
            &[&matmul, &format!("{w}BiasAdd/Enter")],
            vec![("T", ty(dt::FLOAT)), ("_output_shapes", shapes(&[&[BATCH, 4 * h]])), ("data_format", string("NHWC"))],
            1,
        );
        g.enter(&format!("{w}BiasAdd/Enter"), &format!("{bias}/read"), dt::FLOAT, &[4 * h], true, None);
        let split = g.add(
            &format!("{w}split"),
            "Split",
            &[&split_dim, &biasadd],
            vec![("T", ty(dt::FLOAT)), ("_output_shapes", shapes(&[&bh, &bh, &bh, &bh])), ("num_split", int(4))],
            4,
        );
        // BasicLSTMCell: new_c = c * sigmoid(f + 1) + sigmoid(i) * tanh(j); new_h = tanh(new_c) * sigmoid(o).
        let fb = g.float_const(&format!("{w}Const_1"), &[], 1.0, Some(&pivot), None);
        let f = g.binary(&format!("{w}Add"), "AddV2", &format!("{split}:2"), &fb, dt::FLOAT, &bh, None);
        let sf = g.unary(&format!("{w}Sigmoid"), "Sigmoid", &f, dt::FLOAT, &bh);
        let keep = g.binary(&format!("{w}Mul"), "Mul", c_prev, &sf, dt::FLOAT, &bh, None);
        let si = g.unary(&format!("{w}Sigmoid_1"), "Sigmoid", &split, dt::FLOAT, &bh);
        let tj = g.unary(&format!("{w}Tanh"), "Tanh", &format!("{split}:1"), dt::FLOAT, &bh);
        let write = g.binary(&format!("{w}Mul_1"), "Mul", &si, &tj, dt::FLOAT, &bh, None);
        let c = g.binary(&format!("{w}Add_1"), "AddV2", &keep, &write, dt::FLOAT, &bh, None);
        let tc = g.unary(&format!("{w}Tanh_1"), "Tanh", &c, dt::FLOAT, &bh);
        let so = g.unary(&format!("{w}Sigmoid_2"), "Sigmoid", &format!("{split}:3"), dt::FLOAT, &bh);
        let hnew = g.binary(&format!("{w}Mul_2"), "Mul", &tc, &so, dt::FLOAT, &bh, None);
        next_state.push(c);
        next_state.push(hnew.clone());
        x = hnew;
    }
    // output_ta.write(time, output)
    let ta_write = "rnn/while/TensorArrayWrite/TensorArrayWriteV3";
    let flow = g.add(
        ta_write,
        "TensorArrayWriteV3",
        &[&format!("{ta_write}/Enter"), &ident[1], &x, &ident[2]],
        vec![("T", ty(dt::FLOAT)), ("_class", loc(&x)), ("_output_shapes", shapes(&[&[]]))],
        1,
    );
    g.enter(&format!("{ta_write}/Enter"), &out_ta, dt::RESOURCE, &[2], true, Some(&x));
    let one = g.int_const("rnn/while/add_1/y", &[], &[1], Some(&pivot), None);
    let next_time = g.binary("rnn/while/add_1", "AddV2", &ident[1], &one, dt::INT32, &[], None);
    let mut next: Vec<String> = vec![next_counter, next_time, flow];
    next.extend(next_state);
    for (k, (_, t, d)) in var_in.iter().enumerate() {
        g.unary(&indexed("NextIteration", k), "NextIteration", &next[k], *t, d);
    }
    let mut exits = Vec::new();
    for (k, (_, t, d)) in var_in.iter().enumerate() {
        exits.push(g.unary(&indexed("Exit", k), "Exit", &indexed("Switch", k), *t, d));
    }

    // outputs = transpose(output_ta.stack()), then the logits layer and the softmax.
    let start = g.int_const("rnn/TensorArrayStack/range/start", &[], &[0], None, Some(&out_ta));
    let delta = g.int_const("rnn/TensorArrayStack/range/delta", &[], &[1], None, Some(&out_ta));
    let srange = g.add(
        "rnn/TensorArrayStack/range",
        "Range",
        &[&start, &time_steps, &delta],
        vec![("Tidx", ty(dt::INT32)), ("_class", loc(&out_ta)), ("_output_shapes", shapes(&[&[-1]]))],
        1,
    );
    let gather = g.add(
        "rnn/TensorArrayStack/TensorArrayGatherV3",
        "TensorArrayGatherV3",
        &[&out_ta, &srange, &exits[2]],
        vec![
            ("_class", loc(&out_ta)),
            ("_output_shapes", shapes(&[&[-1, BATCH, top]])),
            ("dtype", ty(dt::FLOAT)),
            ("element_shape", shape_attr(&[BATCH, top])),
        ],
        1,
    );
    g.int_const("rnn/Const_2", &[1], &[top as i32], None, None);
    let perm = g.batch_time_perm("_1");
    let outputs = g.add(
        "rnn/transpose_1",
        "Transpose",
        &[&gather, &perm],
        vec![("T", ty(dt::FLOAT)), ("Tperm", ty(dt::INT32)), ("_output_shapes", shapes(&[&[BATCH, -1, top]]))],
        1,
    );
    let rs = g.int_const("Reshape/shape", &[2], &[-1, top as i32], None, None);
    let flat = g.add(
        "Reshape",
        "Reshape",
        &[&outputs, &rs],
        vec![("T", ty(dt::FLOAT)), ("Tshape", ty(dt::INT32)), ("_output_shapes", shapes(&[&[-1, top]]))],
        1,
    );
    let (fw, fb) = ("fully_connected/weights", "fully_connected/biases");
    let fc_values = vec![
        (fw.to_string(), g.variable(fw, &[top, classes], true, true)),
        (fb.to_string(), g.variable(fb, &[classes], false, true)),
    ];
    let mm = g.add(
        "fully_connected/MatMul",
        "MatMul",
        &[&flat, &format!("{fw}/read")],
        vec![
            ("T", ty(dt::FLOAT)),
            ("_output_shapes", shapes(&[&[-1, classes]])),
            ("transpose_a", boolean(false)),
            ("transpose_b", boolean(false)),
        ],
        1,
    );
    let logits = g.add(
        "fully_connected/BiasAdd",
        "BiasAdd",
        &[&mm, &format!("{fb}/read")],
        vec![("T", ty(dt::FLOAT)), ("_output_shapes", shapes(&[&[-1, classes]])), ("data_format", string("NHWC"))],
        1,
    );
    let temperature = g.add(
        "Placeholder_1",
        "Placeholder",
        &[],
        vec![("_output_shapes", shapes(&[&[]])), ("dtype", ty(dt::FLOAT)), ("shape", shape_attr(&[]))],
        1,
    );
    let fd = g.int_const("Fill/dims", &[1], &[classes as i32], None, None);
    let fill = g.add(
        "Fill",
        "Fill",
        &[&fd, &temperature],
        vec![("T", ty(dt::FLOAT)), ("_output_shapes", shapes(&[&[classes]])), ("index_type", ty(dt::INT32))],
        1,
    );
    let div = g.binary("div", "RealDiv", &logits, &fill, dt::FLOAT, &[-1, classes], None);
    let softmax = g.unary("Softmax", "Softmax", &div, dt::FLOAT, &[-1, classes]);
    let rs1 = g.int_const("Reshape_1/shape", &[3], &[BATCH as i32, -1, classes as i32], None, None);
    let softmax3 = g.add(
        "Reshape_1",
        "Reshape",
        &[&softmax, &rs1],
        vec![("T", ty(dt::FLOAT)), ("Tshape", ty(dt::INT32)), ("_output_shapes", shapes(&[&[BATCH, -1, classes]]))],
        1,
    );

    // The generator's restore saver (V2), then the bundle's (V1), over the sorted variables.
    let mut sorted: Vec<(String, Vec<i64>)> = s.variables().into_iter().map(|(n, d)| (n, dims(&d))).collect();
    sorted.sort_by(|a, b| a.0.cmp(&b.0));
    g.saver("save", &sorted, false);
    g.saver("save_1", &sorted, true);

    // The while context: every tensor the loop frame holds, and the outside tensors it reads.
    let mut external = BTreeMap::new();
    let mut values = Vec::new();
    for (n, &k) in g.nodes.iter().zip(&g.outputs) {
        if !n.name.starts_with(WHILE) || n.name == "rnn/while/iteration_counter" {
            continue;
        }
        for i in 0..k {
            values.push(format!("{}:{i}", n.name));
        }
        let constant = matches!(n.attr.get("is_constant"), Some(AttrValue { value: Some(Value::B(true)) }));
        if n.op == "Enter" && constant {
            let src = &n.input[0];
            let src = if src.contains(':') { src.clone() } else { format!("{src}:0") };
            external.insert(src.clone(), format!("{}:0", n.name));
            values.push(src);
        }
    }
    values.sort();
    let while_context = WhileContextDef {
        context_name: FRAME.to_string(),
        parallel_iterations: 32,
        back_prop: true,
        swap_memory: true,
        pivot_name: "rnn/while/LoopCond:0".into(),
        pivot_for_pred_name: format!("{merge0}:0"),
        pivot_for_body_name: format!("{pivot}:0"),
        loop_exit_names: (0..nvars).map(|k| format!("{}:0", indexed("Exit", k))).collect(),
        values_def: Some(ValuesDef { values, external_values: external }),
        loop_enter_names: (0..nvars).map(|k| format!("{}:0", indexed("Enter", k))).collect(),
        maximum_iterations_name: format!("{time_steps}:0"),
    };

    let mut all_vars = initial_values;
    all_vars.extend(fc_values.iter().cloned());
    let mut collections = BTreeMap::new();
    collections.insert("inputs".to_string(), node_list(vec![format!("{inputs}:0")]));
    collections.insert("temperature".to_string(), node_list(vec![format!("{temperature}:0")]));
    collections.insert("softmax".to_string(), node_list(vec![format!("{softmax3}:0")]));
    collections.insert(
        "initial_state".to_string(),
        node_list(zero_state.iter().flatten().map(|z| format!("{z}:0")).collect()),
    );
    collections.insert("final_state".to_string(), node_list(exits[3..].iter().map(|e| format!("{e}:0")).collect()));
    collections.insert("model_variables".to_string(), variable_defs(&fc_values));
    collections.insert("trainable_variables".to_string(), variable_defs(&all_vars));
    collections.insert("variables".to_string(), variable_defs(&all_vars));
    collections.insert(
        "while_context".to_string(),
        CollectionDef { kind: Some(Collection::BytesList(BytesList { value: vec![while_context.encode_to_vec()] })) },
    );

    Ok(MetaGraphDef {
        meta_info_def: None,
        graph_def: Some(GraphDef {
            node: g.nodes,
            versions: Some(VersionDef { producer: PRODUCER, min_consumer: 0, bad_consumers: vec![] }),
        }),
        saver_def: Some(SaverDef {
            filename_tensor_name: "save_1/Const:0".into(),
            save_tensor_name: "save_1/control_dependency:0".into(),
            restore_op_name: "save_1/restore_all".into(),
            max_to_keep: 5,
            sharded: false,
            keep_checkpoint_every_n_hours: 10000.0,
            version: 1,
        }),
        collection_def: collections,
    })
}

/// A new bundle for `checkpoint` with a metagraph built for its shape: no template needed.
///
/// `checkpoint` must hold exactly the graph's variables (BasicLSTMCell names, see
/// [`GraphShape::variables`]) with finite values.
pub fn new_bundle(
    generator_id: &str,
    shape: &GraphShape,
    checkpoint: &Checkpoint,
    bundle_description: &str,
) -> Result<crate::Bundle> {
    let generator = crate::layout::check_generator_id(generator_id)?;
    if generator.input_size != shape.input_size || generator.num_classes != shape.num_classes {
        return Err(MagError::mismatch(format!(
            "a '{generator_id}' model has input {} and {} classes, not {} and {}",
            generator.input_size, generator.num_classes, shape.input_size, shape.num_classes
        )));
    }
    let metagraph = generation_metagraph(shape)?;
    let expected = Checkpoint::new(
        shape
            .variables()
            .into_iter()
            .map(|(name, d)| {
                let n = d.iter().product();
                crate::Tensor::new(name, d, vec![0.0; n])
            })
            .collect::<Result<Vec<_>>>()?,
    )?;
    crate::export::check_same_variables(&expected, checkpoint, "the graph")?;
    let bytes = crate::checkpoint::write_v1(checkpoint)?;
    Ok(crate::Bundle::new(generator_id, generator.description, bundle_description, bytes, metagraph.encode_to_vec()))
}
