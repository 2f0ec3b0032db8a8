package lua_test

import (
	"context"
	"fmt"

	"github.com/goshawk/goshawk/bindings/lua"
)

func ExampleRuntime_Run() {
	script, err := lua.Compile("greet.lua", []byte(`
		local names = {}
		for _, n in ipairs(input.names) do names[#names + 1] = n:upper() end
		return {greeting = "hello " .. table.concat(names, " and "), count = #names}
	`))
	if err != nil {
		fmt.Println(err)
		return
	}
	rt := lua.NewRuntime(lua.Options{})
	defer rt.Close()
	result, err := rt.Run(context.Background(), &lua.RunSpec{
		Script: script,
		Inputs: map[string]any{"names": []any{"ada", "grace"}},
	})
	if err != nil {
		fmt.Println(err)
		return
	}
	fmt.Println(result)
	// Output: map[count:2 greeting:hello ADA and GRACE]
}

func ExampleCompile() {
	_, err := lua.Compile("broken.lua", []byte("local x = = 1"))
	fmt.Println(err)
	// Output: broken.lua:1:11: syntax error near "="
}
