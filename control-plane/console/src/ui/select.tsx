import type { ReactNode } from "react";

/** One option of a {@link Select}. */
export interface Choice {
  value: string;
  label: string;
}

/** Props of {@link Select}. */
export interface SelectProps {
  /** The label text; read by screen readers and by the browser tests' `getByLabel`. */
  label: ReactNode;
  /** Keep the label for assistive technology only (filter bars label themselves by their first option). */
  hideLabel?: boolean;
  value: string;
  choices: readonly Choice[];
  /** A first option with the value "" (e.g. "All groups", "No group"). */
  empty?: string;
  onChange: (value: string) => void;
  disabled?: boolean;
  required?: boolean;
  className?: string;
}

/** A labelled `<select>` over string values: the one shape every picker in the console uses. */
export function Select({
  label,
  hideLabel,
  value,
  choices,
  empty,
  onChange,
  disabled,
  required,
  className,
}: SelectProps) {
  return (
    <label className={className}>
      {hideLabel ? <span className="visually-hidden">{label}</span> : label}
      <select value={value} disabled={disabled} required={required} onChange={(e) => onChange(e.target.value)}>
        {empty !== undefined && <option value="">{empty}</option>}
        {choices.map((choice) => (
          <option key={choice.value} value={choice.value}>
            {choice.label}
          </option>
        ))}
      </select>
    </label>
  );
}

/** Choices of an id/name list (groups, playlists, videos). */
export function choicesOf(items: readonly { id: string; name: string }[] | undefined): Choice[] {
  return (items ?? []).map((item) => ({ value: item.id, label: item.name }));
}
