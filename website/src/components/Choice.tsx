// A labelled drop-down over a fixed set of keyed options (periods, bucket sizes, groupings).

interface ChoiceProps<K extends string> {
  label: string;
  value: K;
  options: readonly { key: K; label: string }[];
  onChange: (key: K) => void;
}

export function Choice<K extends string>({ label, value, options, onChange }: ChoiceProps<K>) {
  return (
    <label>
      {label}{" "}
      <select value={value} onChange={(e) => onChange(e.target.value as K)}>
        {options.map((o) => (
          <option key={o.key} value={o.key}>
            {o.label}
          </option>
        ))}
      </select>
    </label>
  );
}
