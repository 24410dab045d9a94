//! [`generation_metagraph`]: Magenta's generation graph, node for node, in TensorFlow's
//! creation order.

use std::collections::BTreeMap;

use prost::Message;

use crate::bundle::graph::nodes::{
    boolean, dims, dt, int, loc, node_list, shape_attr, shapes, string, ty, variable_defs, Graph,
};
use crate::bundle::graph::shape::{cell_scope, GraphShape, BATCH, FRAME, PRODUCER, WHILE};
use crate::error::Result;
use crate::proto::graph::{
    AttrValue, BytesList, Collection, CollectionDef, GraphDef, MetaGraphDef, SaverDef, Value, ValuesDef,
    WhileContextDef,
};
use crate::proto::VersionDef;

/// The generation graph Magenta exports into a bundle for a Performance RNN of this shape.
pub fn generation_metagraph(s: &GraphShape) -> Result<MetaGraphDef> {
    s.check()?;
    let mut g = Graph { nodes: Vec::new(), outputs: Vec::new() };
    let input = s.input_size as i64;
    let hs: Vec<i64> = s.layers.iter().map(|&h| h as i64).collect();

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
    let zero_state = zero_state(&mut g, &hs);
    let rnn = rnn_prelude(&mut g, s, &inputs);
    let var_in = loop_frame(&mut g, &rnn, &hs, &zero_state);
    let (initial_values, exits) = loop_body(&mut g, s, &rnn, &var_in);
    let flat = stacked_outputs(&mut g, s, &rnn, &exits[2]);
    let (fc_values, temperature, softmax) = logits_softmax(&mut g, s, &flat);

    // The generator's restore saver (V2), then the bundle's (V1), over the sorted variables.
    let mut sorted: Vec<(String, Vec<i64>)> = s.variables().into_iter().map(|(n, d)| (n, dims(&d))).collect();
    sorted.sort_by(|a, b| a.0.cmp(&b.0));
    g.saver("save", &sorted, false);
    g.saver("save_1", &sorted, true);
    let while_context = while_context(&g, &rnn.time_steps, var_in.len());

    let mut all_vars = initial_values;
    all_vars.extend(fc_values.iter().cloned());
    let mut collections = BTreeMap::new();
    collections.insert("inputs".to_string(), node_list(vec![format!("{inputs}:0")]));
    collections.insert("temperature".to_string(), node_list(vec![format!("{temperature}:0")]));
    collections.insert("softmax".to_string(), node_list(vec![format!("{softmax}:0")]));
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

/// The name of loop node `base` for loop variable `k` (`rnn/while/Merge`, `rnn/while/Merge_1`, …).
fn indexed(base: &str, k: usize) -> String {
    if k == 0 {
        format!("{WHILE}{base}")
    } else {
        format!("{WHILE}{base}_{k}")
    }
}

/// The DropoutWrapper constants, then `cell.zero_state(1)`: per layer the (c, h) zeros.
fn zero_state(g: &mut Graph, hs: &[i64]) -> Vec<Vec<String>> {
    let sfx = |l: usize| if l == 0 { String::new() } else { format!("_{l}") };
    // DropoutWrapper(keep_prob 1.0) constants: input, state and output keep probabilities.
    for l in 0..hs.len() {
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
    zero_state
}

/// The tensors `dynamic_rnn` makes before its loop that the loop and the outputs read.
struct Rnn {
    /// The time counter's initial value (`rnn/time`).
    time: String,
    /// The sequence length (`rnn/strided_slice`).
    time_steps: String,
    /// The loop's bound (`rnn/Minimum`).
    minimum: String,
    /// The output and input TensorArrays.
    out_ta: String,
    in_ta: String,
    /// The input TensorArray's flow after the inputs are scattered into it.
    scatter: String,
}

/// `dynamic_rnn` before its loop: batch-major to time-major, the time length, the zero
/// output, the TensorArrays (the inputs scattered into theirs) and the loop's bound.
fn rnn_prelude(g: &mut Graph, s: &GraphShape, inputs: &str) -> Rnn {
    let (input, top) = (s.input_size as i64, s.top() as i64);
    let perm = g.batch_time_perm("");
    let xt = g.add(
        "rnn/transpose",
        "Transpose",
        &[inputs, &perm],
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
    let out_ta = tensor_array(g, "rnn/TensorArray", top, "output");
    let in_ta = tensor_array(g, "rnn/TensorArray_1", input, "input");
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
    Rnn { time, time_steps, minimum, out_ta, in_ta, scatter }
}

/// The while loop's frame: its variables (iteration counter, time, output TensorArray
/// flow, the state of each layer) entered, merged, tested against the bounds and switched,
/// up to their `Identity` nodes. Returns each variable's (initial value, type, shape).
fn loop_frame(g: &mut Graph, rnn: &Rnn, hs: &[i64], zero_state: &[Vec<String>]) -> Vec<(String, i32, Vec<i64>)> {
    let counter = g.int_const("rnn/while/iteration_counter", &[], &[0], None, None);
    let mut var_in: Vec<(String, i32, Vec<i64>)> = vec![
        (counter, dt::INT32, vec![]),
        (rnn.time.clone(), dt::INT32, vec![]),
        (format!("{}:1", rnn.out_ta), dt::FLOAT, vec![]),
    ];
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
    let less_enter = g.enter("rnn/while/Less/Enter", &rnn.time_steps, dt::INT32, &[], true, None);
    let less = g.binary("rnn/while/Less", "Less", &indexed("Merge", 0), &less_enter, dt::INT32, &[], None);
    // Creation order puts `Less` before its `Enter`.
    let n = g.nodes.len();
    g.nodes.swap(n - 1, n - 2);
    g.outputs.swap(n - 1, n - 2);
    let less1_enter = g.enter("rnn/while/Less_1/Enter", &rnn.minimum, dt::INT32, &[], true, None);
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
    for (k, (_, t, d)) in var_in.iter().enumerate() {
        g.unary(&indexed("Identity", k), "Identity", &format!("{}:1", indexed("Switch", k)), *t, d);
    }
    var_in
}

/// The loop's body: the counter, `input_ta.read(time)`, the cells, `output_ta.write`, the
/// time step, then each variable's `NextIteration` and `Exit`. Returns the cells' variables
/// as (name, initial value) and the `Exit` nodes.
fn loop_body(
    g: &mut Graph,
    s: &GraphShape,
    rnn: &Rnn,
    var_in: &[(String, i32, Vec<i64>)],
) -> (Vec<(String, String)>, Vec<String>) {
    let ident: Vec<String> = (0..var_in.len()).map(|k| indexed("Identity", k)).collect();
    let pivot = ident[0].clone();
    let one = g.int_const("rnn/while/add/y", &[], &[1], Some(&pivot), None);
    let next_counter = g.binary("rnn/while/add", "AddV2", &pivot, &one, dt::INT32, &[], None);
    // input_ta.read(time)
    let read = g.add(
        "rnn/while/TensorArrayReadV3",
        "TensorArrayReadV3",
        &["rnn/while/TensorArrayReadV3/Enter", &ident[1], "rnn/while/TensorArrayReadV3/Enter_1"],
        vec![("_output_shapes", shapes(&[&[BATCH, s.input_size as i64]])), ("dtype", ty(dt::FLOAT))],
        1,
    );
    g.enter("rnn/while/TensorArrayReadV3/Enter", &rnn.in_ta, dt::RESOURCE, &[2], true, None);
    g.enter("rnn/while/TensorArrayReadV3/Enter_1", &rnn.scatter, dt::FLOAT, &[], true, None);

    // The cells: variables outside the loop (created on the first call), the step inside.
    let mut initial_values = Vec::new();
    let mut x = read;
    let mut next_state = Vec::new();
    for l in 0..s.layers.len() {
        let (c, h) = lstm_cell(g, s, l, &x, [&ident[3 + 2 * l], &ident[4 + 2 * l]], &pivot, &mut initial_values);
        next_state.push(c);
        next_state.push(h.clone());
        x = h;
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
    g.enter(&format!("{ta_write}/Enter"), &rnn.out_ta, dt::RESOURCE, &[2], true, Some(&x));
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
    (initial_values, exits)
}

/// Layer `l`'s BasicLSTMCell on input `x` and state `(c, h)`: its kernel and bias (outside
/// the loop, pushed onto `initial_values`), then its step inside the loop. Returns the new
/// `(c, h)`.
fn lstm_cell(
    g: &mut Graph,
    s: &GraphShape,
    l: usize,
    x: &str,
    [c_prev, h_prev]: [&str; 2],
    pivot: &str,
    initial_values: &mut Vec<(String, String)>,
) -> (String, String) {
    let h = s.layers[l] as i64;
    let v = cell_scope(l);
    let rows = s.layer_input(l) as i64 + h;
    let kernel = format!("{v}kernel");
    let bias = format!("{v}bias");
    initial_values.push((kernel.clone(), g.variable(&kernel, &[rows, 4 * h], true, false)));
    initial_values.push((bias.clone(), g.variable(&bias, &[4 * h], false, false)));
    let w = format!("{WHILE}{v}");
    let split_dim = g.int_const(&format!("{w}Const"), &[], &[1], Some(pivot), None);
    let axis = g.int_const(&format!("{w}concat/axis"), &[], &[1], Some(pivot), None);
    let concat = g.add(
        &format!("{w}concat"),
        "ConcatV2",
        &[x, h_prev, &axis],
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
    let fb = g.float_const(&format!("{w}Const_1"), &[], 1.0, Some(pivot), None);
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
    (c, hnew)
}

/// `outputs = transpose(output_ta.stack())` from the output TensorArray's final flow, flattened
/// to `[-1, top]`; returns the flat outputs.
fn stacked_outputs(g: &mut Graph, s: &GraphShape, rnn: &Rnn, out_flow: &str) -> String {
    let top = s.top() as i64;
    let out_ta = &rnn.out_ta;
    let start = g.int_const("rnn/TensorArrayStack/range/start", &[], &[0], None, Some(out_ta));
    let delta = g.int_const("rnn/TensorArrayStack/range/delta", &[], &[1], None, Some(out_ta));
    let srange = g.add(
        "rnn/TensorArrayStack/range",
        "Range",
        &[&start, &rnn.time_steps, &delta],
        vec![("Tidx", ty(dt::INT32)), ("_class", loc(out_ta)), ("_output_shapes", shapes(&[&[-1]]))],
        1,
    );
    let gather = g.add(
        "rnn/TensorArrayStack/TensorArrayGatherV3",
        "TensorArrayGatherV3",
        &[out_ta, &srange, out_flow],
        vec![
            ("_class", loc(out_ta)),
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
    g.add(
        "Reshape",
        "Reshape",
        &[&outputs, &rs],
        vec![("T", ty(dt::FLOAT)), ("Tshape", ty(dt::INT32)), ("_output_shapes", shapes(&[&[-1, top]]))],
        1,
    )
}

/// The logits layer on the flat outputs, divided by the temperature placeholder, and the
/// softmax reshaped to `[batch, time, classes]`. Returns the layer's variables as (name,
/// initial value), the temperature placeholder and the softmax.
fn logits_softmax(g: &mut Graph, s: &GraphShape, flat: &str) -> (Vec<(String, String)>, String, String) {
    let (classes, top) = (s.num_classes as i64, s.top() as i64);
    let (fw, fb) = ("fully_connected/weights", "fully_connected/biases");
    let fc_values = vec![
        (fw.to_string(), g.variable(fw, &[top, classes], true, true)),
        (fb.to_string(), g.variable(fb, &[classes], false, true)),
    ];
    let mm = g.add(
        "fully_connected/MatMul",
        "MatMul",
        &[flat, &format!("{fw}/read")],
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
    (fc_values, temperature, softmax3)
}

/// The while context: every tensor the loop frame holds, and the outside tensors it reads.
fn while_context(g: &Graph, time_steps: &str, nvars: usize) -> WhileContextDef {
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
    WhileContextDef {
        context_name: FRAME.to_string(),
        parallel_iterations: 32,
        back_prop: true,
        swap_memory: true,
        pivot_name: "rnn/while/LoopCond:0".into(),
        pivot_for_pred_name: format!("{}:0", indexed("Merge", 0)),
        pivot_for_body_name: format!("{}:0", indexed("Identity", 0)),
        loop_exit_names: (0..nvars).map(|k| format!("{}:0", indexed("Exit", k))).collect(),
        values_def: Some(ValuesDef { values, external_values: external }),
        loop_enter_names: (0..nvars).map(|k| format!("{}:0", indexed("Enter", k))).collect(),
        maximum_iterations_name: format!("{time_steps}:0"),
    }
}
