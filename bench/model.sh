# Sourced by the benchmarks: `model NAME COUNT` prints a SQLite model of COUNT resources, each
# with a string, a nullable text, an int with a default and a nullable reference to the
# previous one.
model() {
  printf '[project]\nname = "%s"\nbackend = "sqlite"\n\n' "$1"
  for i in $(seq -w 1 "$2"); do
    printf '[[resources]]\nname = "thing%s"\nfields = ["name:string(100)", "note:text?", "amount:int:default=0"' "$i"
    [ "$((10#$i))" -gt 1 ] && printf ', "parent:references(thing%s)?:on_delete=set_null"' "$(printf "%0${#i}d" $((10#$i - 1)))"
    printf ']\n\n'
  done
}
