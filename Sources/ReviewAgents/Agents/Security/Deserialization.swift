// MARK: Deserialisation (CWE-502)

extension SecurityFileReview {
    func deserialization(_ line: SourceLine, _ c: inout FindingCollector) {
        var what: String?
        switch language {
        case .python:
            for name: Needle in [
                "pickle.load(", "pickle.loads(", "cPickle.load", "dill.load", "marshal.load",
                "jsonpickle.decode(", "shelve.open(", "yaml.unsafe_load(", "pandas.read_pickle(",
                "pd.read_pickle(",
            ] where line.code.has(name) {
                what = String(decoding: name.bytes.filter { $0 != UInt8(ascii: "(") }, as: UTF8.self)
            }
            if what == nil, line.code.has("yaml.load(") || line.code.has("yaml.load_all(") {
                let safe = line.raw.has("SafeLoader") || line.raw.has("CSafeLoader") || line.raw.has("BaseLoader")
                if !safe { what = "yaml.load without SafeLoader" }
            }
            if what == nil, line.code.has("torch.load("), !line.raw.has("weights_only=True"),
                !line.raw.has("weights_only = True")
            {
                what = "torch.load without weights_only=True"
            }
        case .java, .kotlin:
            for name: Needle in [
                "new ObjectInputStream(", "ObjectInputStream(", "new XMLDecoder(", ".fromXML(",
                "SerializationUtils.deserialize(",
            ] where line.code.has(name) {
                what = "Java deserialisation (\(String(decoding: name.bytes.dropLast(), as: UTF8.self)))"
                break
            }
        case .ruby:
            for name: Needle in [
                "Marshal.load(", "Marshal.restore(", "YAML.unsafe_load(", "Psych.unsafe_load(",
                "YAML.load(", "Oj.load(",
            ] where line.code.has(name) {
                if name.bytes == Needle("YAML.load(").bytes && !line.raw.has("permitted_classes") {
                    // YAML.load is safe since Psych 4 (Ruby 3.1); flag it only with unsafe options.
                    if !line.raw.has("aliases: true") { continue }
                }
                what = String(decoding: name.bytes.dropLast(), as: UTF8.self)
                break
            }
        case .javascript, .typescript:
            if line.code.has("unserialize(") || line.code.has("serialize.unserialize(") {
                what = "node-serialize unserialize"
            }
        case .swift:
            if line.code.has("unarchiveObject(with") || line.code.has("unarchiveTopLevelObjectWithData(")
                || line.code.has("unarchiveObject(withFile")
            {
                what = "NSKeyedUnarchiver without secure coding"
            }
        case .php:
            if !line.calls("unserialize(", bare: true).isEmpty { what = "unserialize" }
        default:
            break
        }
        guard let what else { return }
        c.add(
            Rules.unsafeDeserialization, file: file, line: line,
            message: "\(what) can run code chosen by whoever produced the data.",
            suggestion: "Use a data-only format (JSON), a safe loader (yaml.safe_load, weights_only=True, "
                + "unarchivedObject(ofClass:from:)) or sign and verify the data first.")
    }
}
