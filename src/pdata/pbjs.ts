// The schema table as a protobufjs JSON descriptor (for `protobuf.Root.fromJSON`), so the tests and
// the benchmark can compare against protobufjs without any .proto file. Not used at run time.
import { K_ENUM, K_MESSAGE, MESSAGES } from './schema.js';

interface PbjsField { type: string; id: number; rule?: 'repeated'; options?: Record<string, unknown> }
interface PbjsType { fields: Record<string, PbjsField>; oneofs?: Record<string, { oneof: string[] }> }

export function protobufjsDescriptor(): { nested: Record<string, PbjsType> } {
  const nested: Record<string, PbjsType> = {};
  for (const d of Object.values(MESSAGES)) {
    const t: PbjsType = { fields: {} };
    for (const f of d.fields) {
      // enums go as int32: identical on the wire, and no enum tables to carry over
      const type = f.kind === K_MESSAGE ? f.typeName! : f.kind === K_ENUM ? 'int32' : f.kindName;
      const pf: PbjsField = { type, id: f.no };
      if (f.repeated) pf.rule = 'repeated';
      if (f.packed) pf.options = { packed: true };
      const group = f.oneof ?? (f.presence ? `_${f.name}` : undefined);
      if (group !== undefined) {
        t.oneofs ??= {};
        (t.oneofs[group] ??= { oneof: [] }).oneof.push(f.name);
        if (f.oneof === undefined) pf.options = { ...pf.options, proto3_optional: true };
      }
      t.fields[f.name] = pf;
    }
    nested[d.name] = t;
  }
  return { nested };
}
