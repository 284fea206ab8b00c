//! Just enough of the ONNX protobuf format to expose the feature map a global pooling reads
//! as an extra graph output, so one run over the whole frame gives both the global embedding
//! and a map that any window can be pooled from (the tile stage's proposals).
//!
//! Hand-written because it is three message types and one append: a protobuf crate plus the
//! ONNX schema would be a large build-time dependency for it. ONNX Runtime sessions can only
//! return graph outputs, so the model has to be edited before it is loaded.

/// A field of a protobuf message: number, wire type, and where its payload lies.
struct Field {
    number: u64,
    wire: u8,
    /// Byte range of the whole field (key included).
    whole: std::ops::Range<usize>,
    /// Byte range of the payload of a length-delimited field (wire type 2).
    payload: std::ops::Range<usize>,
}

fn varint(b: &[u8], pos: &mut usize) -> Option<u64> {
    let mut v = 0u64;
    for shift in (0..64).step_by(7) {
        let byte = *b.get(*pos)?;
        *pos += 1;
        v |= ((byte & 0x7f) as u64) << shift;
        if byte & 0x80 == 0 {
            return Some(v);
        }
    }
    None
}

fn put_varint(out: &mut Vec<u8>, mut v: u64) {
    loop {
        let byte = (v & 0x7f) as u8;
        v >>= 7;
        if v == 0 {
            out.push(byte);
            return;
        }
        out.push(byte | 0x80);
    }
}

/// The top-level fields of a message, `None` when the bytes are not a valid message.
fn fields(b: &[u8]) -> Option<Vec<Field>> {
    let mut out = Vec::new();
    let mut pos = 0;
    while pos < b.len() {
        let start = pos;
        let key = varint(b, &mut pos)?;
        let (number, wire) = (key >> 3, (key & 7) as u8);
        let payload = match wire {
            0 => {
                varint(b, &mut pos)?;
                pos..pos
            }
            1 => {
                pos += 8;
                pos..pos
            }
            2 => {
                let len = usize::try_from(varint(b, &mut pos)?).ok()?;
                let p = pos..pos.checked_add(len)?;
                pos = p.end;
                p
            }
            5 => {
                pos += 4;
                pos..pos
            }
            _ => return None,
        };
        if pos > b.len() || number == 0 {
            return None;
        }
        out.push(Field {
            number,
            wire,
            whole: start..pos,
            payload,
        });
    }
    Some(out)
}

fn strings(b: &[u8], fs: &[Field], number: u64) -> Vec<String> {
    fs.iter()
        .filter(|f| f.number == number && f.wire == 2)
        .map(|f| String::from_utf8_lossy(&b[f.payload.clone()]).into_owned())
        .collect()
}

fn len_field(out: &mut Vec<u8>, number: u64, payload: &[u8]) {
    put_varint(out, number << 3 | 2);
    put_varint(out, payload.len() as u64);
    out.extend_from_slice(payload);
}

/// The model with the input of its last `GlobalAveragePool` node added as a float graph
/// output, and that tensor's name; `None` when the bytes are not a model with such a node.
pub fn expose_pooled_map(model: &[u8]) -> Option<(Vec<u8>, String)> {
    const GRAPH: u64 = 7; // ModelProto.graph
    const NODE: u64 = 1; // GraphProto.node
    const OUTPUT: u64 = 12; // GraphProto.output
    let top = fields(model)?;
    let g = top.iter().find(|f| f.number == GRAPH && f.wire == 2)?;
    let graph = &model[g.payload.clone()];
    let gf = fields(graph)?;
    let mut name = None;
    for n in gf.iter().filter(|f| f.number == NODE && f.wire == 2) {
        let nb = &graph[n.payload.clone()];
        let nf = fields(nb)?;
        // NodeProto: input = 1, op_type = 4.
        if strings(nb, &nf, 4).first().map(String::as_str) == Some("GlobalAveragePool") {
            name = strings(nb, &nf, 1).into_iter().next();
        }
    }
    let name = name.filter(|n| !n.is_empty())?;
    let outputs: Vec<String> = gf
        .iter()
        .filter(|f| f.number == OUTPUT && f.wire == 2)
        .filter_map(|f| {
            let vb = &graph[f.payload.clone()];
            strings(vb, &fields(vb)?, 1).into_iter().next()
        })
        .collect();
    let mut new_graph = graph.to_vec();
    if !outputs.contains(&name) {
        // ValueInfoProto { name = 1, type = 2: TypeProto { tensor_type = 1:
        // Tensor { elem_type = 1: FLOAT (1) } } }, no shape (ONNX Runtime infers it).
        let mut vi = Vec::new();
        len_field(&mut vi, 1, name.as_bytes());
        len_field(&mut vi, 2, &[0x0a, 0x02, 0x08, 0x01]);
        len_field(&mut new_graph, OUTPUT, &vi);
    }
    let mut out = Vec::with_capacity(model.len() + 64);
    out.extend_from_slice(&model[..g.whole.start]);
    len_field(&mut out, GRAPH, &new_graph);
    out.extend_from_slice(&model[g.whole.end..]);
    Some((out, name))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn node(op: &str, input: &str, output: &str) -> Vec<u8> {
        let mut n = Vec::new();
        len_field(&mut n, 1, input.as_bytes());
        len_field(&mut n, 2, output.as_bytes());
        len_field(&mut n, 4, op.as_bytes());
        n
    }

    fn model() -> Vec<u8> {
        let mut graph = Vec::new();
        len_field(&mut graph, 1, &node("Relu", "x", "feat"));
        len_field(&mut graph, 1, &node("GlobalAveragePool", "feat", "pooled"));
        len_field(&mut graph, 2, b"g");
        let mut vi = Vec::new();
        len_field(&mut vi, 1, b"pooled");
        len_field(&mut graph, 12, &vi);
        let mut m = Vec::new();
        put_varint(&mut m, 1 << 3); // ir_version
        put_varint(&mut m, 8);
        len_field(&mut m, 7, &graph);
        len_field(&mut m, 2, b"producer");
        m
    }

    #[test]
    fn adds_the_pooled_input_as_an_output_and_keeps_everything_else() {
        let m = model();
        let (patched, name) = expose_pooled_map(&m).unwrap();
        assert_eq!(name, "feat");
        let top = fields(&patched).unwrap();
        assert_eq!(top.len(), 3);
        assert_eq!(&patched[top[0].whole.clone()], &m[..2]);
        assert_eq!(strings(&patched, &top, 2), vec!["producer".to_string()]);
        let graph = &patched[top[1].payload.clone()];
        let gf = fields(graph).unwrap();
        let outs: Vec<String> = gf
            .iter()
            .filter(|f| f.number == 12)
            .map(|f| {
                let vb = &graph[f.payload.clone()];
                strings(vb, &fields(vb).unwrap(), 1).remove(0)
            })
            .collect();
        assert_eq!(outs, vec!["pooled".to_string(), "feat".to_string()]);
        // Idempotent: patching again adds nothing.
        let (again, _) = expose_pooled_map(&patched).unwrap();
        assert_eq!(again, patched);
    }

    #[test]
    fn refuses_garbage_and_models_without_global_pooling() {
        assert!(expose_pooled_map(b"\xff\xff\xff").is_none());
        let mut graph = Vec::new();
        len_field(&mut graph, 1, &node("Relu", "x", "y"));
        let mut m = Vec::new();
        len_field(&mut m, 7, &graph);
        assert!(expose_pooled_map(&m).is_none());
    }
}
