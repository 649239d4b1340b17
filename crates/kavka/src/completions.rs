//! `kavka completions bash|zsh|fish`: a completion script for `kavka`, its own
//! subcommands and every tool it runs (`kavka topics --bootstrap-server ...`).

use clap::CommandFactory;

/// The whole command tree: `kavka`'s own subcommands plus the tools, which parse
/// their own arguments and so are not part of the derived `Cli`.
pub(crate) fn command_tree() -> clap::Command {
    let mut cli = crate::Cli::command();
    for (tool, name) in kavka_tools::Tool::ALL {
        cli = cli.subcommand(kavka_tools::completion::tool_command(tool, name));
    }
    cli.subcommand(crate::storage_tool::StorageCli::command().name("storage"))
}

/// Writes the completion script for `shell` to `out`.
pub(crate) fn write(shell: clap_complete::Shell, out: &mut dyn std::io::Write) {
    let mut cli = command_tree();
    clap_complete::generate(shell, &mut cli, "kavka", out);
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn bash_script_completes_subcommands_and_tool_flags() {
        let mut out = Vec::new();
        write(clap_complete::Shell::Bash, &mut out);
        let script = String::from_utf8_lossy(&out);
        assert!(script.contains("complete -F _kavka"), "not a bash script");
        for word in [
            "broker",
            "topics",
            "consumer-groups",
            "storage",
            "completions",
        ] {
            assert!(script.contains(word), "{word} missing");
        }
        assert!(script.contains("--bootstrap-server"), "tool flags missing");
    }

    #[test]
    fn zsh_and_fish_scripts_name_the_tools() {
        for shell in [clap_complete::Shell::Zsh, clap_complete::Shell::Fish] {
            let mut out = Vec::new();
            write(shell, &mut out);
            let script = String::from_utf8_lossy(&out);
            assert!(
                script.contains("console-producer"),
                "{shell}: tools missing"
            );
        }
    }
}
